"""Domain errors raised by services. Each entry point (API, web form, command) renders them its own way."""

from django.utils.translation import gettext_lazy as _


class ServiceError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.code = code or self.default_code


class InvalidInput(ServiceError):
    status_code = 400
    default_code = "invalid"


class NotAllowed(ServiceError):
    status_code = 403
    default_code = "permission_denied"


class NotFound(ServiceError):
    status_code = 404
    default_code = "not_found"


class Conflict(ServiceError):
    """The request is well formed but the object's current state forbids it (e.g. an illegal transition)."""

    status_code = 409
    default_code = "conflict"


def raise_if_errors(errors: dict[str, list[str]], message: str | None = None) -> None:
    if errors:
        raise InvalidInput(message or _("Some fields are not valid."), fields=errors)
