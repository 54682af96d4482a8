"""GPU-hours going back to a call's pool (a returned stage, an accepted reclaim), offered down the
waitlist once the return has committed."""

from django.db import transaction
from django.utils.translation import gettext as _

from portal.calls.models import Call
from portal.errors import Conflict
from quotas.models import CallPool
from quotas.waitlist import waitlist_offer


def pool_lock(*, call_id: int, gpu_type: str) -> CallPool:
    """The call's pool of ``gpu_type``, locked (lock order: CallPool before Allocation and budgets)."""
    pool = CallPool.objects.select_for_update().filter(call_id=call_id, gpu_type=gpu_type).first()
    if pool is None:
        raise Conflict(
            _("The call has no %(gpu_type)s pool to return GPU-hours to.") % {"gpu_type": gpu_type},
            code="no_pool",
        )
    return pool


def pool_give_back(*, pool: CallPool, gpu_hours: int) -> None:
    """Take ``gpu_hours`` off what the locked ``pool`` has awarded; never below zero."""
    if gpu_hours > pool.awarded_gpu_hours:
        raise Conflict(
            _("The pool holds fewer awarded GPU-hours than are being returned."), code="pool_short"
        )
    pool.awarded_gpu_hours -= gpu_hours
    pool.save(update_fields=["awarded_gpu_hours"])


def offer_after_commit(*, call_id: int, actor) -> None:
    """Offer the returned GPU-hours down the call's waitlist once this transaction commits. A failed
    offer leaves the hours in the pool for the next offer and does not undo the return (robust)."""

    def offer() -> None:
        waitlist_offer(call=Call.objects.get(pk=call_id), actor=actor)

    transaction.on_commit(offer, robust=True)
