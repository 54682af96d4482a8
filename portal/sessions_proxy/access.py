"""Who is asking, from the portal's session cookie, and where their session listens, or why not."""

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections
from django.http import Http404
from django.http.cookie import parse_cookie

from portal.errors import ServiceError
from scheduler import session_access
from scheduler.session_access import Upstream


@dataclass(frozen=True)
class Refusal:
    status: int  # 401, 403, 404, 503 ...
    code: str  # "login_required", "permission_denied", "not_found", "session_not_ready", ...


# starting: try again shortly (Retry-After); ended: gone for good (its notebooks stay in the workspace)
REFUSAL_STATUS = {"session_not_ready": 503, "session_ended": 410}


def _session_key(cookie_header: bytes | None) -> str | None:
    if not cookie_header:
        return None
    # Django's own lenient parser, as for the portal's pages: one odd cookie does not hide the rest.
    return parse_cookie(cookie_header.decode("latin-1")).get(settings.SESSION_COOKIE_NAME)


def _user_for(session_key: str | None):
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # get_user checks the session's auth hash (a changed password logs out) and the backend's
    # user_can_authenticate (a disabled account is anonymous), as the portal's own pages do.
    return get_user(SimpleNamespace(session=store))


def _resolve(cookie_header: bytes | None, public_id: UUID) -> Upstream | Refusal:
    # Like Django's request cycle: no connection outlives its usefulness in this long-lived thread.
    close_old_connections()
    try:
        user = _user_for(_session_key(cookie_header))
        if not (user.is_authenticated and user.is_active):
            return Refusal(401, "login_required")
        try:
            return session_access.session_upstream(user, public_id)
        except Http404:
            return Refusal(404, "not_found")
        except PermissionDenied:
            return Refusal(403, "permission_denied")
        except ServiceError as error:
            return Refusal(REFUSAL_STATUS.get(error.code, error.status_code), error.code)
    finally:
        close_old_connections()


resolve = sync_to_async(_resolve)
"""async (cookie_header, public_id) -> Upstream | Refusal, in Django's thread for the database."""
