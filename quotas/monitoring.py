"""The monthly check of each active award's use against its plan: on plan, warned, or a reclaim proposed.

Run on any day of a month, the check covers the month before it (the last whole month), once per award
and month (UsageCheck's unique constraint; a second run finds the row and does nothing):

1. The plan: the award's GPU-hours spread evenly over its released period (the whole period, or up to
   the end of the last released stage), counted up to the first day of this month.
2. Used: the budgets' used GPU-hours at the time of the check.
3. Used at or above the call's ``reclaim_threshold`` share of the plan (or nothing planned yet): on plan.
4. Below it, the first time: the organisation's owners and managers are warned.
5. Below it again the month after a warning: a Reclaim of each GPU type's unused part of the plan so far
   (its plan minus what it used, never more than is neither used nor held) is proposed for staff to
   accept or dismiss (quotas/reclaims.py). A GPU type with a proposal still undecided gets no second one.

Example: 1,000 GPU-hours from 1 January to 31 October (304 days, all released), threshold 0.5. The check
run in May covers April: the plan is 1,000 × 120/304 = 394.7 GPU-hours; 150 used is below half of it:
warned. The check run in June (plan 1,000 × 151/304 = 496.7) finds 160 used: a reclaim of
⌊496.7 − 160⌋ = 336 GPU-hours is proposed.
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from portal.audit.services import audit_record
from portal.notifications.services import notify
from portal.organisations.selectors import owners_and_managers
from quotas.models import (
    SECONDS_PER_HOUR,
    Allocation,
    AllocationBudget,
    AllocationStatus,
    Reclaim,
    ReclaimState,
    StageState,
    UsageCheck,
    UsageCheckAction,
)


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_month(first: date) -> date:
    return month_start(first - timedelta(days=1))


def plan_share(*, starts_on: date, released_until: date, as_of: date) -> float:
    """The share of the released period (``starts_on`` to ``released_until``, both days counted) that lies
    before ``as_of``: 0 before the start, 1 once it is over."""
    days = (released_until - starts_on).days + 1
    if days <= 0:
        return 1.0
    return min(1.0, max(0.0, (as_of - starts_on).days / days))


def released_until(allocation: Allocation) -> date:
    """The last day of the award's released GPU-hours: the last released stage's end, or the award's."""
    last = allocation.stages.filter(state=StageState.RELEASED).aggregate(end=Max("ends_on"))["end"]
    return last or allocation.ends_on


@dataclass(frozen=True)
class TypeUse:
    gpu_type: str
    planned_gpu_hours: float
    used_gpu_hours: float
    reclaimable_gpu_hours: int


def _type_uses(budgets: list[AllocationBudget], share: float) -> list[TypeUse]:
    uses = []
    for budget in budgets:
        planned = budget.awarded_gpu_hours * share
        used = budget.used_gpu_seconds / SECONDS_PER_HOUR
        free = budget.awarded_gpu_hours - math.ceil(
            (budget.used_gpu_seconds + budget.held_gpu_seconds) / 3600
        )
        uses.append(TypeUse(budget.gpu_type, planned, used, max(0, min(math.floor(planned - used), free))))
    return uses


def usage_checks_run(*, today: date | None = None) -> int:
    """Check every active award against its plan for the month before ``today``'s; returns the checks
    written (0 on a second run in the same month)."""
    today = today or timezone.localdate()
    as_of = month_start(today)
    month = previous_month(as_of)
    due = (
        Allocation.objects.filter(status=AllocationStatus.ACTIVE, starts_on__lt=as_of)
        .exclude(usage_checks__month=month)
        .values_list("pk", flat=True)
    )
    written = 0
    for allocation_id in due:
        if _check_one(allocation_id, month=month, as_of=as_of):
            written += 1
    return written


def _check_one(allocation_id: int, *, month: date, as_of: date) -> bool:
    with transaction.atomic():
        # of=("self",): lock the award only, not its call (which the waitlist offer locks first).
        allocation = (
            Allocation.objects.select_for_update(of=("self",)).select_related("call").get(pk=allocation_id)
        )
        if (
            allocation.status != AllocationStatus.ACTIVE
            or allocation.usage_checks.filter(month=month).exists()
        ):
            return False
        budgets = list(
            AllocationBudget.objects.select_for_update().filter(allocation=allocation).order_by("gpu_type")
        )
        share = plan_share(
            starts_on=allocation.starts_on, released_until=released_until(allocation), as_of=as_of
        )
        uses = _type_uses(budgets, share)
        planned = sum(use.planned_gpu_hours for use in uses)
        used = sum(use.used_gpu_hours for use in uses)
        if planned <= 0 or used >= allocation.call.reclaim_threshold * planned:
            action = UsageCheckAction.ON_PLAN
        else:
            warned_before = allocation.usage_checks.filter(
                month=previous_month(month), action=UsageCheckAction.WARNED
            ).exists()
            proposed = _propose_reclaims(allocation, uses) if warned_before else []
            action = UsageCheckAction.RECLAIM_PROPOSED if proposed else UsageCheckAction.WARNED
            _tell(allocation, month=month, planned=planned, used=used, proposed=proposed)
        UsageCheck.objects.create(
            allocation=allocation,
            month=month,
            planned_gpu_hours=round(planned, 2),
            used_gpu_hours=round(used, 2),
            action=action,
        )
        if action != UsageCheckAction.ON_PLAN:
            audit_record(
                actor=None,
                target=allocation,
                action=f"usage_{action}",
                data={
                    "month": month.isoformat(),
                    "planned_gpu_hours": round(planned, 2),
                    "used_gpu_hours": round(used, 2),
                },
            )
    return True


def _propose_reclaims(allocation: Allocation, uses: list[TypeUse]) -> list[Reclaim]:
    undecided = set(
        allocation.reclaims.filter(state=ReclaimState.PROPOSED).values_list("gpu_type", flat=True)
    )
    return [
        Reclaim.objects.create(
            allocation=allocation, gpu_type=use.gpu_type, gpu_hours=use.reclaimable_gpu_hours
        )
        for use in uses
        if use.reclaimable_gpu_hours > 0 and use.gpu_type not in undecided
    ]


def _tell(
    allocation: Allocation, *, month: date, planned: float, used: float, proposed: list[Reclaim]
) -> None:
    figures = {
        "title": allocation.project_title,
        "month": month.strftime("%Y-%m"),
        "planned": f"{planned:,.0f}",
        "used": f"{used:,.0f}",
    }
    if proposed:
        hours = ", ".join(f"{reclaim.gpu_hours:,} {reclaim.gpu_type}" for reclaim in proposed)
        subject = format_lazy(gettext_lazy("GPU-hours may be reclaimed: {title}"), **figures)
        body = format_lazy(
            gettext_lazy(
                "By the end of {month}, '{title}' had used {used} of the {planned} GPU-hours its plan "
                "foresaw, for the second month running. Programme staff will consider returning the unused "
                "part ({hours} GPU-hours) to the call's pool."
            ),
            hours=hours,
            **figures,
        )
    else:
        subject = format_lazy(gettext_lazy("Behind plan: {title}"), **figures)
        body = format_lazy(
            gettext_lazy(
                "By the end of {month}, '{title}' had used {used} of the {planned} GPU-hours its plan "
                "foresaw. If it is still behind next month, the unused part may be returned to the call's pool."
            ),
            **figures,
        )
    notify(recipients=owners_and_managers(allocation.organisation), subject=subject, body=body)
