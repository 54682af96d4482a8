"""Login throttling: too many failed passwords for one email from one address lock that pair out a while.

Applied in the authentication backend (portal/accounts/backends.py), so every login form shares it.

Counters live in the shared cache (Redis in production), so every web process sees the same count.
Settings: GPUGRANT_LOGIN_MAX_FAILURES failures within GPUGRANT_LOGIN_WINDOW_S lock the pair for
GPUGRANT_LOGIN_LOCKOUT_S. While locked even the right password is refused, so guessing gains nothing.
Each failure, each lockout and each success is written to the audit log.
"""

import hashlib
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record

# Failed logins for an email with no account are filed under a stable id derived from the email.
LOGIN_NAMESPACE = uuid.UUID("0b6f8c7e-2f5c-4a39-9a0c-6a0f3c1d2b11")


def client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a proxy rewrites it, so the
    # deployment's proxy must pass the client address through as REMOTE_ADDR.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def login_email(value) -> str:
    """The email a login names, as accounts store it (lower case), whatever form it came through."""
    return (value or "").strip().lower()


def _key(kind: str, email: str, address: str) -> str:
    digest = hashlib.sha256(f"{email.lower()}|{address}".encode()).hexdigest()[:32]
    return f"login-{kind}:{digest}"


def login_is_locked(*, email: str, address: str) -> bool:
    return cache.get(_key("locked", email, address)) is not None


def login_failure_record(*, email: str, address: str) -> bool:
    """Count a failed login; True when this failure locked the pair out."""
    failures_key = _key("failures", email, address)
    cache.add(failures_key, 0, settings.GPUGRANT_LOGIN_WINDOW_S)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.set(failures_key, 1, settings.GPUGRANT_LOGIN_WINDOW_S)
        failures = 1
    locked = failures >= settings.GPUGRANT_LOGIN_MAX_FAILURES
    if locked:
        cache.set(_key("locked", email, address), 1, settings.GPUGRANT_LOGIN_LOCKOUT_S)
        cache.delete(failures_key)
    _audit(email, address, "login_failed", {"failures": failures})
    if locked:
        _audit(email, address, "login_locked_out", {"lockout_s": settings.GPUGRANT_LOGIN_LOCKOUT_S})
    return locked


def login_refused_while_locked(*, email: str, address: str) -> None:
    _audit(email, address, "login_refused_locked", {})


def login_success_record(*, user: User, address: str) -> None:
    cache.delete(_key("failures", user.email, address))
    audit_record(actor=user, target=user, action="login_succeeded", data={"address": address})


def _audit(email: str, address: str, action: str, data: dict) -> None:
    user = User.objects.filter(email__iexact=email).first()
    with transaction.atomic():
        if user is not None:
            audit_record(actor=None, target=user, action=action, data={"address": address, **data})
        else:
            AuditEvent.objects.create(
                target_type="login",
                target_id=uuid.uuid5(LOGIN_NAMESPACE, email.lower()),
                action=action,
                data={"email": email.lower()[:254], "address": address, **data},
            )
