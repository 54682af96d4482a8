"""Shedding job submissions before Django, when this process already has its fill of them in flight.

Under a burst most submissions are refused with 503 + Retry-After (GPUGRANT_SUBMIT_CONCURRENCY, see
portal/api/throttling.py). Refused inside DRF, each still cost a pass through every middleware and the
view machinery — about as much CPU as the admission it spares, on the very cores that are short of it.
Here the refusal is a few microseconds. A submission that gets a slot keeps it until its response is
closed; the view sees the slot in the request environment and does not take a second one. Servers that
do not go through portal.wsgi (the test client, runserver) still get the view's own guard.
"""

import json
import time

from portal.api.throttling import Overloaded, submission_slot_release, submission_slot_take
from portal.ops.metrics import request_observed

SUBMIT_PATHS = frozenset({"/api/v1/jobs", "/api/v1/jobs/"})
SUBMIT_ROUTE = "api/v1/jobs"  # the route label /metrics uses for this endpoint
SLOT_TAKEN = "gpugrant.submission_slot"  # set in the WSGI environment (request.META) when held


class ShedSubmissions:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") not in SUBMIT_PATHS:
            return self.app(environ, start_response)
        started = time.perf_counter()
        try:
            taken = submission_slot_take()
        except Overloaded as refusal:
            body = json.dumps(
                {"message": str(refusal.detail), "code": "overloaded", "extra": {"fields": {}}}
            ).encode()
            start_response(
                "503 Service Unavailable",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(body))),
                    ("Retry-After", str(refusal.wait)),
                ],
            )
            request_observed(
                method="POST", route=SUBMIT_ROUTE, status=503, seconds=time.perf_counter() - started
            )
            return [body]
        if not taken:
            return self.app(environ, start_response)
        environ[SLOT_TAKEN] = True
        try:
            result = self.app(environ, start_response)
        except BaseException:
            submission_slot_release(True)
            raise
        return _ReleasedOnClose(result)


class _ReleasedOnClose:
    """The response, iterated as it is; closing it (the server always does) frees the slot once."""

    def __init__(self, response):
        self._response = response
        self._released = False

    def __iter__(self):
        return iter(self._response)

    def close(self):
        try:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()
        finally:
            if not self._released:
                self._released = True
                submission_slot_release(True)
