"""Reading an allocation's balance per GPU type: awarded, used, held and remaining GPU-hours."""

from decimal import Decimal

import pytest

from quotas.models import AllocationBudget
from quotas.selectors import allocation_balances, allocations_visible_to
from tests import builders


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    return builders.approved(
        owner,
        organisation,
        call,
        staff,
        reviewer,
        gpu_requests={"A100": 2000, "H100": 500},
        awarded_gpu_hours={"A100": 1500, "H100": 500},
    )


@pytest.mark.django_db
def test_it_reports_a_fresh_allocation_as_all_remaining(allocation):
    balances = allocation_balances(allocation)
    assert [
        (
            b.gpu_type,
            b.awarded_gpu_hours,
            b.used_gpu_hours,
            b.held_gpu_hours,
            b.remaining_gpu_hours,
            b.used_percent,
        )
        for b in balances
    ] == [
        ("A100", Decimal("1500.00"), Decimal("0.00"), Decimal("0.00"), Decimal("1500.00"), 0),
        ("H100", Decimal("500.00"), Decimal("0.00"), Decimal("0.00"), Decimal("500.00"), 0),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("used_seconds", "held_seconds", "used", "held", "remaining", "percent"),
    [
        (3600, 0, "1.00", "0.00", "1499.00", 0),
        (1800, 5400, "0.50", "1.50", "1498.00", 0),
        (750 * 3600, 150 * 3600, "750.00", "150.00", "600.00", 60),
        (1500 * 3600, 0, "1500.00", "0.00", "0.00", 100),
        (1, 0, "0.00", "0.00", "1500.00", 0),
        (36, 0, "0.01", "0.00", "1499.99", 0),
    ],
)
def test_it_converts_seconds_to_hours(allocation, used_seconds, held_seconds, used, held, remaining, percent):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(
        used_gpu_seconds=used_seconds, held_gpu_seconds=held_seconds
    )
    a100 = allocation_balances(allocation)[0]
    assert (a100.used_gpu_hours, a100.held_gpu_hours, a100.remaining_gpu_hours, a100.used_percent) == (
        Decimal(used),
        Decimal(held),
        Decimal(remaining),
        percent,
    )


@pytest.mark.django_db
def test_it_shows_allocations_only_to_their_organisation_and_staff(
    allocation, owner, teammate, outsider, staff
):
    assert list(allocations_visible_to(owner)) == [allocation]
    assert list(allocations_visible_to(teammate)) == [allocation]
    assert list(allocations_visible_to(staff)) == [allocation]
    assert list(allocations_visible_to(outsider)) == []
