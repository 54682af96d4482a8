"""/metrics for the Prometheus scraper, /healthz/live and /healthz/ready for probes.

They are reached through portal.ops.middleware.OpsEndpointsMiddleware, ahead of host validation, HTTPS
redirects, sessions and CSRF: a kubelet probe or a scraper calls the pod by its IP address over plain
HTTP, and none of these answers builds a URL from the Host header.
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from portal.ops import health
from portal.ops.metrics import exposition


def _metrics_allowed(request) -> int | None:
    """None when this request may read /metrics; otherwise the status to answer."""
    token = settings.GPUGRANT_METRICS_TOKEN
    networks = settings.GPUGRANT_METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        # Production without either guard keeps the endpoint off rather than open to the Internet.
        return 404 if settings.PRODUCTION else None
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return 403
        if not any(address in network for network in networks):
            return 403
    if token:
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return 403
    return None


@require_safe
def metrics(request):
    refused = _metrics_allowed(request)
    if refused is not None:
        return HttpResponse(status=refused, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


@require_safe
def live(request):
    return JsonResponse({"status": "ok"})


@require_safe
def ready(request):
    checks = health.readiness()
    ok = all(check.ok for check in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {name: c.as_dict() for name, c in checks.items()},
    }
    return JsonResponse(body, status=200 if ok else 503)
