"""Reading allocations and their balances."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Exists, OuterRef, QuerySet

from portal.organisations.selectors import organisation_ids_of
from quotas.models import SECONDS_PER_HOUR, Allocation, AllocationBudget


def _visible_to(user, allocations: QuerySet[Allocation]) -> QuerySet[Allocation]:
    if not getattr(user, "is_authenticated", False):
        return allocations.none()
    if user.is_staff:
        return allocations
    return allocations.filter(organisation_id__in=organisation_ids_of(user))


def allocations_visible_to(user) -> QuerySet[Allocation]:
    return _visible_to(
        user,
        Allocation.objects.select_related("organisation", "call", "application").prefetch_related("budgets"),
    )


def allocation_visible_to(user, allocation: Allocation) -> bool:
    """_visible_to's rule for one allocation already read (a submission reads it by a prepared query)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_staff or allocation.organisation_id in organisation_ids_of(user)


def allocations_to_submit_against() -> QuerySet[Allocation]:
    """Allocations with their organisation and whether each pins jobs to providers (``pins_providers``)."""
    pinned = Allocation.providers.through.objects.filter(allocation_id=OuterRef("pk"))
    return Allocation.objects.select_related("organisation").annotate(pins_providers=Exists(pinned))


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / SECONDS_PER_HOUR).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Balance:
    gpu_type: str
    awarded_gpu_hours: Decimal
    used_gpu_hours: Decimal
    held_gpu_hours: Decimal
    remaining_gpu_hours: Decimal

    @property
    def used_percent(self) -> int:
        if not self.awarded_gpu_hours:
            return 0
        return min(100, int((self.used_gpu_hours + self.held_gpu_hours) * 100 / self.awarded_gpu_hours))


def balance_of(budget: AllocationBudget) -> Balance:
    return Balance(
        gpu_type=budget.gpu_type,
        awarded_gpu_hours=_hours(budget.awarded_gpu_seconds),
        used_gpu_hours=_hours(budget.used_gpu_seconds),
        held_gpu_hours=_hours(budget.held_gpu_seconds),
        remaining_gpu_hours=_hours(budget.remaining_gpu_seconds),
    )


def allocation_balances(allocation: Allocation) -> list[Balance]:
    return [balance_of(budget) for budget in allocation.budgets.all()]
