"""Holds on an allocation's budget for accepted jobs, and settling them against GPU time used.

A hold is taken under the AllocationBudget row lock, so concurrent submissions can never together
hold more than remains. Lock order: Job (when settling) → AllocationBudget (docs/concurrency.md).
"""

from django.db.models import F

from portal.errors import Conflict
from quotas.models import SECONDS_PER_HOUR, AllocationBudget


def lock_budget(*, allocation_id: int, gpu_type: str) -> AllocationBudget | None:
    return (
        AllocationBudget.objects.select_for_update()
        .filter(allocation_id=allocation_id, gpu_type=gpu_type)
        .first()
    )


def hold_take(*, allocation_id: int, gpu_type: str, gpu_seconds: int) -> AllocationBudget:
    """Hold ``gpu_seconds`` or raise Conflict (code budget_exceeded). Call inside a transaction."""
    budget = lock_budget(allocation_id=allocation_id, gpu_type=gpu_type)
    if budget is None:
        raise Conflict(f"The allocation has no {gpu_type} GPU-hours.", code="gpu_type_not_awarded")
    if gpu_seconds > budget.remaining_gpu_seconds:
        raise Conflict(
            "Not enough GPU-hours left on the allocation for this job.",
            code="budget_exceeded",
            fields={
                "max_runtime_minutes": [
                    f"This job may use {gpu_seconds / SECONDS_PER_HOUR:,.2f} {gpu_type} GPU-hours; "
                    f"{max(0, budget.remaining_gpu_seconds) / SECONDS_PER_HOUR:,.2f} remain after other jobs' holds."
                ]
            },
        )
    AllocationBudget.objects.filter(pk=budget.pk).update(held_gpu_seconds=F("held_gpu_seconds") + gpu_seconds)
    budget.refresh_from_db()
    return budget


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
