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


def allocation_organisation_id(public_id) -> int | None:
    """The organisation of the allocation ``public_id`` (cached), or None if there is none such."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    key = f"allocation-organisation:{public_id}"
    organisation_id = cache.get(key)
    if organisation_id is None:
        organisation_id = (
            Allocation.objects.filter(public_id=public_id).values_list("organisation_id", flat=True).first()
        )
        if organisation_id is None:
            return None
        cache.set(key, organisation_id, ORGANISATION_CACHE_S)
    return organisation_id


class OrganisationSubmitThrottle(SimpleRateThrottle):
    """Submissions per organisation (of the allocation submitted against); other methods pass."""

    scope = "org_submit"
    methods = ("POST",)

    def get_rate(self):
        return getattr(settings, "GPUGRANT_ORG_SUBMIT_RATE", "") or None

    def get_cache_key(self, request, view):
        if request.method not in self.methods or not request.user.is_authenticated:
            return None
        try:
            allocation = request.data.get("allocation") if hasattr(request.data, "get") else None
        except exceptions.ParseError:
            return None  # the view reports the malformed body
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
_slots: dict[str, int] = {"in_flight": 0}


def submission_slot_take() -> bool:
    """Take one of this process's GPUGRANT_SUBMIT_CONCURRENCY submission slots (True), or raise Overloaded.

    Returns False when the cap is off (nothing to release).
    """
    cap = getattr(settings, "GPUGRANT_SUBMIT_CONCURRENCY", 0)
    if not cap:
        return False
    with _slots_lock:
        if _slots["in_flight"] >= cap:
            raise Overloaded(getattr(settings, "GPUGRANT_OVERLOAD_RETRY_AFTER_S", 1))
        _slots["in_flight"] += 1
    return True


def submission_slot_release(taken: bool) -> None:
    if taken:
        with _slots_lock:
            _slots["in_flight"] -= 1


@contextmanager
def submission_slot():
    """Hold a submission slot for the block (or raise Overloaded)."""
    taken = submission_slot_take()
    try:
        yield
    finally:
        submission_slot_release(taken)
