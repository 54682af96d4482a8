"""Views of the web portal, one module per group of pages. Thin: parse a form, call a service."""
