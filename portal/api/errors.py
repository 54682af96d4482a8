"""One error envelope for the whole API: ``{"message": str, "code": str, "extra": {"fields": {name: [msg]}}}``."""

import logging
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import ServiceError
from portal.outages import RETRY_AFTER_S, is_outage, outage_envelope, outage_response

logger = logging.getLogger(__name__)


def envelope(message, code: str, fields: dict | None = None) -> dict:
    # str() here: services raise lazy messages, rendered in the language of the request being answered.
    return {
        "message": str(message),
        "code": code,
        "extra": {"fields": {name: [str(m) for m in msgs] for name, msgs in (fields or {}).items()}},
    }


def _flatten(detail) -> dict[str, list[str]]:
    """DRF's nested ValidationError detail → {"field": ["msg"], "nested.field": ["msg"]}."""
    fields: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                # a nested serializer's own (non-field) errors belong to the field that holds it
                if key in ("non_field_errors", "__all__") and prefix:
                    walk(prefix, inner)
                else:
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            if all(not isinstance(v, dict | list) for v in value):
                fields.setdefault(prefix or "non_field_errors", []).extend(str(v) for v in value)
            else:
                for index, inner in enumerate(value):
                    walk(f"{prefix}.{index}" if prefix else str(index), inner)
        else:
            fields.setdefault(prefix or "non_field_errors", []).append(str(value))

    walk("", detail)
    return fields


def exception_handler(exc, context):
    if is_outage(exc):
        logger.warning("API request failed on an outage: %s", exc)
        return Response(outage_envelope(), status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    if isinstance(exc, ServiceError):
        return Response(envelope(exc.message, exc.code, exc.fields), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(envelope(_("The request body is too large."), "request_too_large"), status=413)
    if isinstance(exc, SuspiciousOperation):
        return Response(envelope(_("The request was malformed."), "bad_request"), status=400)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(envelope(_("Some fields are not valid."), "invalid", fields), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = envelope(_("Some fields are not valid."), "invalid", _flatten(exc.detail))
    else:
        detail = getattr(exc, "detail", str(exc))
        code = exc.get_codes() if hasattr(exc, "get_codes") else "error"
        response.data = envelope(str(detail), code if isinstance(code, str) else "error")
    if response.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        if getattr(exc, "default_code", "") == "overloaded":
            # Deliberate load shedding, counted by /metrics: logging each of thousands of 503s as an
            # error (here and in django.request) costs CPU exactly when there is none to spare.
            response._has_been_logged = True
        else:
            logger.error("API error: %s", exc)
    return response


# Django's own error views, for requests that never reach a DRF view (no URL matched, a malformed
# path id, a body too large to read): under /api/ they answer with the envelope, elsewhere with pages.
def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse(envelope(_("The request was malformed."), "bad_request"), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse(
            envelope(_("You do not have permission to do this."), "permission_denied"), status=403
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(envelope(_("Not found."), "not_found"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_outage(sys.exc_info()[1]):  # raised outside a DRF view (middleware, web pages)
        return outage_response(request)
    if _is_api(request):
        return JsonResponse(envelope(_("Internal server error."), "server_error"), status=500)
    return defaults.server_error(request)
