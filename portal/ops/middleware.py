"""Per-request plumbing that must touch neither the database nor the cache (submissions count both).

RequestContextMiddleware (first in the chain): the request id — taken from X-Request-ID when well-formed,
otherwise made — in every log line of the request and echoed in the response; the request's latency and
status in /metrics; one access log line.

OpsEndpointsMiddleware (next): answers /metrics and /healthz/* before host validation, HTTPS redirects
and sessions (portal/ops/views.py says why).
"""

import logging
import time

from django.conf import settings
from django.core.signals import request_finished

from portal.ops import views
from portal.ops.logs import request_id_for
from portal.ops.metrics import UNMATCHED_ROUTE, request_observed
from workers import logs

access_log = logging.getLogger("gpugrant.access")

OPS_ENDPOINTS = {"/metrics": views.metrics, "/healthz/live": views.live, "/healthz/ready": views.ready}
REQUEST_ID_HEADER = "X-Request-ID"


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_for(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        # Cleared on request_finished, not here: Django logs 4xx answers after the middleware returns.
        logs.request_id.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        response[REQUEST_ID_HEADER] = request_id
        # Probes and scrapes would swamp the request series and the log.
        if request.path_info not in OPS_ENDPOINTS:
            self._observe(request, response, seconds)
        return response

    @staticmethod
    def _observe(request, response, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        # The route template, never the path: paths carry ids and would open a series per object.
        route = match.route if match is not None and match.route else UNMATCHED_ROUTE
        request_observed(method=request.method, route=route, status=response.status_code, seconds=seconds)
        if settings.GPUGRANT_ACCESS_LOG:
            access_log.info(
                "%s %s %s %.1f ms",
                request.method,
                route,
                response.status_code,
                seconds * 1000,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )


def _request_finished(**_) -> None:
    logs.request_id.set("")
    logs.job_id.set("")


request_finished.connect(_request_finished, dispatch_uid="gpugrant-clear-log-ids")


class OpsEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = OPS_ENDPOINTS.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
