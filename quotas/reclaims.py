"""Staff's decision on a proposed reclaim (quotas/monitoring.py proposes them): accept, and the unused
GPU-hours go back from the budget to the call's pool and down its waitlist; or dismiss, with a reason.

Accepting never takes the budget below what its jobs used and hold now (in whole GPU-hours, rounded up),
so jobs that ran since the proposal keep their GPU-hours: the reclaim shrinks to what is still unused,
and its ``gpu_hours`` records what was actually returned. Example: 300 proposed, but of the 1,000 awarded
800 are now used or held: 200 are reclaimed; the budget keeps 800 and the pool gets 200 back.

Lock order (docs/concurrency.md): CallPool → Allocation → AllocationBudget; the reclaim is claimed last by
a conditional update, so two staff deciding at once produce one decision.
"""

import math

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.selectors import owners_and_managers
from quotas.models import SECONDS_PER_HOUR, Allocation, AllocationBudget, Reclaim, ReclaimState
from quotas.pool_returns import offer_after_commit, pool_give_back, pool_lock

REASON_MAX_LENGTH = Reclaim._meta.get_field("reason").max_length


class ReclaimDecision:
    ACCEPT = "accept"
    DISMISS = "dismiss"
    CHOICES = (ACCEPT, DISMISS)


def reclaims_for_staff(state: str | None = None) -> QuerySet[Reclaim]:
    reclaims = Reclaim.objects.select_related("allocation", "allocation__organisation", "allocation__call")
    return reclaims.filter(state=state) if state else reclaims


def reclaim_decide(*, reclaim: Reclaim, staff, decision: str, reason: str = "") -> Reclaim:
    """Accept or dismiss a proposed reclaim (staff). A dismissal needs a reason."""
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only programme staff decide on a reclaim."))
    errors: dict[str, list[str]] = {}
    if decision not in ReclaimDecision.CHOICES:
        errors["decision"] = [_("Choose accept or dismiss.")]
    if not isinstance(reason, str):
        errors["reason"] = [_("Must be text.")]
    elif len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = [_("At most %(most)s characters.") % {"most": f"{REASON_MAX_LENGTH:,}"}]
    elif decision == ReclaimDecision.DISMISS and not reason.strip():
        errors["reason"] = [_("Say why the GPU-hours stay with the award.")]
    if errors:
        raise InvalidInput(_("The decision could not be recorded."), fields=errors)
    reason = reason.strip()
    with transaction.atomic():
        accepting = decision == ReclaimDecision.ACCEPT
        pool = pool_lock(call_id=reclaim.allocation.call_id, gpu_type=reclaim.gpu_type) if accepting else None
        allocation = Allocation.objects.select_for_update().get(pk=reclaim.allocation_id)
        budget = (
            AllocationBudget.objects.select_for_update()
            .filter(allocation=allocation, gpu_type=reclaim.gpu_type)
            .first()
        )
        returned = 0
        if accepting:
            if budget is None:
                raise Conflict(
                    _("The allocation has no %(gpu_type)s GPU-hours.") % {"gpu_type": reclaim.gpu_type},
                    code="no_budget",
                )
            keeps = math.ceil((budget.used_gpu_seconds + budget.held_gpu_seconds) / SECONDS_PER_HOUR)
            returned = max(0, min(reclaim.gpu_hours, budget.awarded_gpu_hours - keeps))
            if returned == 0:
                raise Conflict(
                    _("Nothing is left to reclaim: the GPU-hours are used or held by jobs. Dismiss it."),
                    code="nothing_to_reclaim",
                )
        target = ReclaimState.ACCEPTED if decision == ReclaimDecision.ACCEPT else ReclaimState.DISMISSED
        claimed = Reclaim.objects.filter(pk=reclaim.pk, state=ReclaimState.PROPOSED).update(
            state=target,
            decided_by=staff,
            decided_at=timezone.now(),
            reason=reason,
            gpu_hours=returned if target == ReclaimState.ACCEPTED else reclaim.gpu_hours,
        )
        if not claimed:
            raise Conflict(_("This reclaim has already been decided."), code="already_decided")
        if target == ReclaimState.ACCEPTED:
            budget.awarded_gpu_hours -= returned
            budget.save(update_fields=["awarded_gpu_hours"])
            pool_give_back(pool=pool, gpu_hours=returned)
            offer_after_commit(call_id=allocation.call_id, actor=staff)
        audit_record(
            actor=staff,
            target=allocation,
            action=f"reclaim_{target}",
            from_state=ReclaimState.PROPOSED,
            to_state=target,
            reason=reason,
            data={
                "reclaim": str(reclaim.public_id),
                "gpu_type": reclaim.gpu_type,
                "proposed_gpu_hours": reclaim.gpu_hours,
                "returned_gpu_hours": returned,
            },
        )
        if target == ReclaimState.ACCEPTED:
            notify(
                recipients=owners_and_managers(allocation.organisation),
                subject=format_lazy(
                    gettext_lazy("GPU-hours reclaimed: {title}"), title=allocation.project_title
                ),
                body=format_lazy(
                    gettext_lazy(
                        "{hours} unused {gpu_type} GPU-hours of '{title}' went back to the call's pool; "
                        "the award now holds {left}.\n\n{reason}"
                    ),
                    hours=f"{returned:,}",
                    gpu_type=reclaim.gpu_type,
                    title=allocation.project_title,
                    left=f"{budget.awarded_gpu_hours:,}",
                    reason=reason,
                ),
            )
    reclaim.refresh_from_db()
    return reclaim
