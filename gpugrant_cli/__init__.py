"""The ``gpugrant`` command-line client: jobs, logs and usage through the portal's REST API.

It talks to the portal only over HTTP and imports nothing from Django, so it starts quickly and needs
no settings; it lives outside ``portal/`` because that package loads the Celery app (and Django) on import.
"""

__version__ = "0.1.0"
