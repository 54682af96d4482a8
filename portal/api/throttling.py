"""Load shedding for job submissions: a per-organisation rate limit and a per-process concurrency cap.

- ``OrganisationSubmitThrottle`` counts POST /api/v1/jobs per organisation of the allocation named in the
  body (in the shared cache: Redis in production), so one organisation's burst cannot starve the others.
  Rate: ``GPUGRANT_ORG_SUBMIT_RATE`` ("1200/min" by default; empty turns it off). Over the rate the
  API answers 429 ``throttled`` with ``Retry-After``.
- ``submission_slot_take`` caps the submissions one process admits at once (``GPUGRANT_SUBMIT_CONCURRENCY``;
  0 turns it off; it matters with threaded workers). The jobs view takes a slot before authentication and
  gives it back when the response is finalised. Beyond the cap it answers 503 ``overloaded`` with
  ``Retry-After`` (``GPUGRANT_OVERLOAD_RETRY_AFTER_S``) at once instead of queueing behind the database
  and slowing everyone down.
"""

import threading
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions, status
from rest_framework.throttling import SimpleRateThrottle

from quotas.models import Allocation

ORGANISATION_CACHE_S = 3600  # an allocation never changes organisation
ORGANISATIONS_REMEMBERED = 10_000  # per process, so that most submissions ask no server at all
_organisation_of: dict[uuid.UUID, int] = {}


def allocation_organisation_id(public_id) -> int | None:
    """The organisation of the allocation ``public_id`` (cached), or None if there is none such."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    organisation_id = _organisation_of.get(public_id)
    if organisation_id is not None:
        return organisation_id
    key = f"allocation-organisation:{public_id}"
    organisation_id = cache.get(key)
    if organisation_id is None:
        organisation_id = (
            Allocation.objects.filter(public_id=public_id).values_list("organisation_id", flat=True).first()
        )
        if organisation_id is None:
            return None
        cache.set(key, organisation_id, ORGANISATION_CACHE_S)
    if len(_organisation_of) >= ORGANISATIONS_REMEMBERED:
        _organisation_of.clear()
    _organisation_of[public_id] = organisation_id
    return organisation_id


class ThrottleHistories:
    """The shared cache as one request's rate throttles see it: read in one round trip, written in one.

    DRF's SimpleRateThrottle reads and writes its history per throttle (two round trips each); stacked
    throttles on a busy endpoint would cost one round trip per read and write.
    """

    def __init__(self, keys: list[str]):
        self._read = cache.get_many(keys) if keys else {}
        self._written: dict[int, dict[str, list]] = {}  # timeout → {key: history}

    def get(self, key, default=None):
        return self._read.get(key, default)

    def set(self, key, value, timeout) -> None:
        self._written.setdefault(timeout, {})[key] = value

    def flush(self) -> None:
        for timeout, values in self._written.items():
            cache.set_many(values, timeout)


class BatchedThrottles:
    """APIView mixin: the view's rate throttles share one ThrottleHistories (same limits, same answers)."""

    def check_throttles(self, request):
        throttles = self.get_throttles()
        counted = [t for t in throttles if isinstance(t, SimpleRateThrottle) and t.rate is not None]
        keys = [key for t in counted if (key := t.get_cache_key(request, self)) is not None]
        histories = ThrottleHistories(keys)
        for throttle in counted:
            throttle.cache = histories
        waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, self)]
        # Written back even when refused: a throttle that allowed the request has counted it.
        histories.flush()
        if waits:
            self.throttled(request, max((w for w in waits if w is not None), default=None))


class OrganisationSubmitThrottle(SimpleRateThrottle):
    """Submissions per organisation (of the allocation submitted against); other methods pass."""

    scope = "org_submit"
    methods = ("POST",)

    def get_rate(self):
        return getattr(settings, "GPUGRANT_ORG_SUBMIT_RATE", "") or None

    def get_cache_key(self, request, view):
        if request.method not in self.methods or not request.user.is_authenticated:
            return None
        # A malformed or too deeply nested body raises its ParseError here, answered as it is: DRF
        # keeps an empty body after a failed parse, so the view would only see missing fields.
        allocation = request.data.get("allocation") if hasattr(request.data, "get") else None
        organisation_id = allocation_organisation_id(allocation) if allocation else None
        if organisation_id is None:
            return None  # the view refuses it as "no such allocation"
        return self.cache_format % {"scope": self.scope, "ident": organisation_id}


class Overloaded(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "gpugrant is at capacity for submissions right now; retry after the given seconds."
    default_code = "overloaded"

    def __init__(self, retry_after: int):
        super().__init__()
        self.wait = retry_after


_slots_lock = threading.Lock()
_slot_freed = threading.Condition(_slots_lock)
_slots: dict[str, int] = {"in_flight": 0, "waiting": 0}


def submission_slot_take() -> bool:
    """Take one of this process's GPUGRANT_SUBMIT_CONCURRENCY submission slots (True), or raise Overloaded.

    With all slots in use, up to GPUGRANT_SUBMIT_QUEUE submissions wait for one, each at most
    GPUGRANT_SUBMIT_QUEUE_WAIT_MS: a slot frees within milliseconds under a burst, while a refusal costs
    the client a whole Retry-After (at least a second). Beyond the queue, or past the wait, Overloaded.
    Returns False when the cap is off (nothing to release).
    """
    cap = getattr(settings, "GPUGRANT_SUBMIT_CONCURRENCY", 0)
    if not cap:
        return False
    with _slot_freed:
        if _slots["in_flight"] >= cap:
            if _slots["waiting"] >= getattr(settings, "GPUGRANT_SUBMIT_QUEUE", 0):
                raise Overloaded(getattr(settings, "GPUGRANT_OVERLOAD_RETRY_AFTER_S", 1))
            _slots["waiting"] += 1
            try:
                freed = _slot_freed.wait_for(
                    lambda: _slots["in_flight"] < cap,
                    timeout=getattr(settings, "GPUGRANT_SUBMIT_QUEUE_WAIT_MS", 1000) / 1000,
                )
            finally:
                _slots["waiting"] -= 1
            if not freed:
                raise Overloaded(getattr(settings, "GPUGRANT_OVERLOAD_RETRY_AFTER_S", 1))
        _slots["in_flight"] += 1
    return True


def submission_slot_release(taken: bool) -> None:
    if taken:
        with _slot_freed:
            _slots["in_flight"] -= 1
            _slot_freed.notify()


@contextmanager
def submission_slot():
    """Hold a submission slot for the block (or raise Overloaded)."""
    taken = submission_slot_take()
    try:
        yield
    finally:
        submission_slot_release(taken)
