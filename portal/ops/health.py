"""Readiness checks: the database, the broker and the scheduler, each answering ok or why not.

Failures are described by kind only (an exception's class name, an age): the answer goes to anyone who
can reach the probe, and driver messages can carry host names or user names.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from portal.ops.selectors import last_cycle_at

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


def _reachable(what: str, probe: Callable[[], object]) -> Check:
    try:
        probe()
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        logger.warning("readiness: the %s is unreachable: %s", what, error)
        return Check(False, f"unreachable ({type(error).__name__})")
    return Check(True, "reachable")


def _select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _connect_to_broker() -> None:
    timeout = settings.GPUGRANT_HEALTH_BROKER_TIMEOUT_S
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options) as broker:
        # One attempt, no retry: a probe has its own period and timeout.
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)


def database() -> Check:
    return _reachable("database", _select_one)


def broker() -> Check:
    return _reachable("broker", _connect_to_broker)


def scheduler() -> Check:
    limit = settings.GPUGRANT_READY_MAX_CYCLE_AGE_S
    if limit <= 0:
        return Check(True, "not checked (GPUGRANT_READY_MAX_CYCLE_AGE_S is 0)")
    try:
        last = last_cycle_at()
    except Exception as error:  # noqa: BLE001 - the database check reports the cause
        return Check(False, f"unknown ({type(error).__name__})")
    if last is None:
        return Check(False, "no scheduling cycle has finished yet")
    age = (timezone.now() - last).total_seconds()
    if age > limit:
        return Check(False, f"last successful cycle {age:.0f} s ago (limit {limit} s)")
    return Check(True, f"last successful cycle {max(0.0, age):.0f} s ago")


def readiness() -> dict[str, Check]:
    return {"database": database(), "broker": broker(), "scheduler": scheduler()}
