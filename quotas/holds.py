"""Holds on an allocation's budget for accepted jobs, and settling them against GPU time used.

A hold is taken by a conditional UPDATE of the AllocationBudget row (which locks it), so concurrent
submissions can never together hold more than remains. Lock order: Job (when settling) →
AllocationBudget (docs/concurrency.md).
"""

from django.db import connection
from django.db.models import BigIntegerField, F
from django.db.models.functions import Cast
from django.db.models.lookups import GreaterThanOrEqual
from django.utils.translation import gettext as _

from portal.errors import Conflict
from quotas.models import SECONDS_PER_HOUR, AllocationBudget


def lock_budget(*, allocation_id: int, gpu_type: str) -> AllocationBudget | None:
    return (
        AllocationBudget.objects.select_for_update()
        .filter(allocation_id=allocation_id, gpu_type=gpu_type)
        .first()
    )


def hold_try(*, allocation_id: int, gpu_type: str, gpu_seconds: int) -> bool:
    """Hold ``gpu_seconds`` if that much remains (True), else change nothing (False). In a transaction.

    One conditional UPDATE: it locks the budget row until the transaction ends, and a submission that had
    to wait for that lock has its condition re-checked against the committed row, so concurrent holds can
    never together exceed what remains.
    """
    # In bigint: awarded hours are an integer column, and in seconds a large award exceeds 32 bits.
    awarded = Cast("awarded_gpu_hours", BigIntegerField()) * SECONDS_PER_HOUR
    remaining = awarded - F("used_gpu_seconds") - F("held_gpu_seconds")
    return bool(
        AllocationBudget.objects.filter(allocation_id=allocation_id, gpu_type=gpu_type)
        .filter(GreaterThanOrEqual(remaining, gpu_seconds))
        .update(held_gpu_seconds=F("held_gpu_seconds") + gpu_seconds)
    )


def hold_try_sql(*, allocation_id: int, gpu_type: str, gpu_seconds: int) -> tuple[str, list]:
    """hold_try as PostgreSQL for a data-modifying WITH clause: the UPDATE returns a row if it held."""
    return (
        f"UPDATE {connection.ops.quote_name(AllocationBudget._meta.db_table)}"
        " SET held_gpu_seconds = held_gpu_seconds + %s"
        " WHERE allocation_id = %s AND gpu_type = %s"
        f" AND awarded_gpu_hours::bigint * {SECONDS_PER_HOUR} - used_gpu_seconds - held_gpu_seconds >= %s"
        " RETURNING id",
        [gpu_seconds, allocation_id, gpu_type, gpu_seconds],
    )


def hold_refusal(*, allocation_id: int, gpu_type: str, gpu_seconds: int) -> Conflict:
    """Why a hold was not taken: no such budget (gpu_type_not_awarded) or too little left (budget_exceeded).

    Reads the budget unlocked, so the figure quoted may be a moment later than the refusal.
    """
    budget = AllocationBudget.objects.filter(allocation_id=allocation_id, gpu_type=gpu_type).first()
    if budget is None:
        return Conflict(
            _("The allocation has no %(gpu_type)s GPU-hours.") % {"gpu_type": gpu_type},
            code="gpu_type_not_awarded",
        )
    return Conflict(
        _("Not enough GPU-hours left on the allocation for this job."),
        code="budget_exceeded",
        fields={
            "max_runtime_minutes": [
                _(
                    "This job may use %(needed)s %(gpu_type)s GPU-hours; %(left)s remain after other jobs' holds."
                )
                % {
                    "needed": f"{gpu_seconds / SECONDS_PER_HOUR:,.2f}",
                    "gpu_type": gpu_type,
                    "left": f"{max(0, budget.remaining_gpu_seconds) / SECONDS_PER_HOUR:,.2f}",
                }
            ]
        },
    )


def hold_take(*, allocation_id: int, gpu_type: str, gpu_seconds: int) -> None:
    """Hold ``gpu_seconds`` or raise Conflict (code budget_exceeded). Call inside a transaction."""
    if not hold_try(allocation_id=allocation_id, gpu_type=gpu_type, gpu_seconds=gpu_seconds):
        raise hold_refusal(allocation_id=allocation_id, gpu_type=gpu_type, gpu_seconds=gpu_seconds)


def hold_top_up(*, allocation_id: int, gpu_type: str, current: int, wanted: int) -> int:
    """Raise a hold towards ``wanted`` as far as the budget allows; returns the new hold."""
    budget = lock_budget(allocation_id=allocation_id, gpu_type=gpu_type)
    if budget is None or wanted <= current:
        return current
    extra = max(0, min(wanted - current, budget.remaining_gpu_seconds))
    if extra:
        AllocationBudget.objects.filter(pk=budget.pk).update(held_gpu_seconds=F("held_gpu_seconds") + extra)
    return current + extra


def hold_release(*, allocation_id: int, gpu_type: str, gpu_seconds: int) -> None:
    """Give back what a finished job still holds. Usage itself is charged only by quotas.ledger."""
    lock_budget(allocation_id=allocation_id, gpu_type=gpu_type)
    AllocationBudget.objects.filter(allocation_id=allocation_id, gpu_type=gpu_type).update(
        held_gpu_seconds=F("held_gpu_seconds") - max(0, gpu_seconds)
    )
