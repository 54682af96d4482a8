"""503 with Retry-After, never a 500, while the database or the broker is out of reach.

A dropped PostgreSQL connection rolls back whatever the request had written, so the client may simply
retry (with the same Idempotency-Key for submissions) once the service is back.
"""

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from kombu.exceptions import OperationalError as BrokerOperationalError

RETRY_AFTER_S = 5
MESSAGE = gettext_lazy(
    "gpugrant cannot reach its database or message broker right now; retry after the given seconds."
)
OUTAGE_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError)


def is_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, OUTAGE_ERRORS)


def outage_envelope() -> dict:
    return {"message": str(MESSAGE), "code": "service_unavailable", "extra": {"fields": {}}}


def outage_response(request) -> HttpResponse:
    """For handler500: the error views cannot use the database either, so the answer is built by hand."""
    if request.path.startswith("/api/"):
        response = JsonResponse(outage_envelope(), status=503)
    else:
        response = HttpResponse(
            "<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>".format(
                title=escape(_("Temporarily unavailable")), message=escape(MESSAGE)
            ),
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response
