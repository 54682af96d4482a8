"""The Content-Security-Policy header (Django 5.2 has none built in).

The policy comes from GPUGRANT_CONTENT_SECURITY_POLICY: in production a strict one by default (only
our own scripts, styles and images; no inline script or style, no framing, forms post only to us);
empty turns the header off, as in the demo, where Django's debug pages need inline code. The portal's
templates carry no inline script or style (tests/web/test_security_headers.py checks the pages). A
view whose third-party page has inline styles it cannot shed marks its response with
``csp_inline_styles = True``; scripts are never allowed inline.
"""

from django.conf import settings

HEADER = "Content-Security-Policy"


def _with_inline_styles(policy: str) -> str:
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    out = [f"{d} 'unsafe-inline'" if d.split()[0] == "style-src" else d for d in directives]
    return "; ".join(out)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.GPUGRANT_CONTENT_SECURITY_POLICY
        if policy and HEADER not in response:
            if getattr(response, "csp_inline_styles", False):
                policy = _with_inline_styles(policy)
            response[HEADER] = policy
        return response
