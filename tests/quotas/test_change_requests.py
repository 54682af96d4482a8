"""Approving a change request adds to the allocation's budgets and period, from the same call pool."""

from datetime import timedelta

import pytest

from portal.audit.models import AuditEvent
from portal.errors import Conflict
from quotas import services as quota_services
from quotas.models import Allocation, AllocationStatus, CallPool
from tests import builders


@pytest.fixture
def small_call(staff):
    return builders.make_call(staff, pools={"A100": (5000, 4000), "H100": (1000, 1000)})


@pytest.fixture
def allocation(owner, organisation, small_call, staff, reviewer):
    return builders.approved(
        owner,
        organisation,
        small_call,
        staff,
        reviewer,
        gpu_requests={"A100": 3000},
        awarded_gpu_hours={"A100": 2000},
    )


def _pools(call) -> dict[str, int]:
    return dict(CallPool.objects.filter(call=call).values_list("gpu_type", "awarded_gpu_hours"))


def _budgets(allocation) -> dict[str, int]:
    return dict(allocation.budgets.values_list("gpu_type", "awarded_gpu_hours"))


def _approve(application, staff, awarded=None, reason="Results justify it."):
    quota_services.application_decide(
        application=application, staff=staff, decision="approve", reason=reason, awarded_gpu_hours=awarded
    )


@pytest.mark.django_db
def test_it_adds_hours_and_extends_the_period(allocation, owner, staff, reviewer2, small_call):
    old_end = allocation.ends_on
    change = builders.change_request_ready(
        owner,
        allocation,
        staff,
        reviewer2,
        requested_end=old_end + timedelta(days=60),
        gpu_requests={"A100": 1000, "H100": 400},
        max_concurrent_gpus=32,
    )

    _approve(change, staff)

    allocation.refresh_from_db()
    assert _budgets(allocation) == {"A100": 3000, "H100": 400}
    assert allocation.ends_on == old_end + timedelta(days=60)
    assert allocation.max_concurrent_gpus == 32
    assert _pools(small_call) == {"A100": 3000, "H100": 400}
    change.refresh_from_db()
    assert change.state == "approved"
    assert dict(change.gpu_requests.values_list("gpu_type", "awarded_gpu_hours")) == {
        "A100": 1000,
        "H100": 400,
    }
    assert Allocation.objects.count() == 1  # no second allocation for a change


@pytest.mark.django_db
def test_it_can_award_less_than_the_change_asked(allocation, owner, staff, reviewer2, small_call):
    change = builders.change_request_ready(owner, allocation, staff, reviewer2, gpu_requests={"A100": 1000})
    _approve(change, staff, awarded={"A100": 250})
    assert _budgets(allocation) == {"A100": 2250}
    assert _pools(small_call)["A100"] == 2250


@pytest.mark.django_db
def test_it_extends_without_touching_the_pool(allocation, owner, staff, reviewer2, small_call):
    new_end = allocation.ends_on + timedelta(days=10)
    change = builders.change_request_ready(
        owner, allocation, staff, reviewer2, requested_end=new_end, gpu_requests={}
    )
    _approve(change, staff)
    allocation.refresh_from_db()
    assert allocation.ends_on == new_end
    assert _budgets(allocation) == {"A100": 2000}
    assert _pools(small_call) == {"A100": 2000, "H100": 0}


@pytest.mark.django_db
def test_it_accumulates_several_changes(allocation, owner, staff, reviewer2, small_call):
    ends = []
    for extra_days, hours in ((5, 500), (20, 700), (10, 300)):
        allocation.refresh_from_db()
        end = allocation.ends_on + timedelta(days=extra_days)
        ends.append(end)
        change = builders.change_request_ready(
            owner, allocation, staff, reviewer2, requested_end=end, gpu_requests={"A100": hours}
        )
        _approve(change, staff)
    allocation.refresh_from_db()
    assert _budgets(allocation) == {"A100": 3500}
    assert allocation.ends_on == max(ends)
    assert _pools(small_call)["A100"] == 3500


@pytest.mark.django_db
def test_it_refuses_a_change_beyond_the_pool_and_writes_nothing(
    allocation, owner, staff, reviewer2, small_call
):
    change = builders.change_request_ready(
        owner,
        allocation,
        staff,
        reviewer2,
        requested_end=allocation.ends_on + timedelta(days=30),
        gpu_requests={"A100": 3001},
    )
    old_end = allocation.ends_on
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _approve(change, staff)

    assert excinfo.value.code == "pool_exhausted"
    allocation.refresh_from_db()
    assert (allocation.ends_on, _budgets(allocation)) == (old_end, {"A100": 2000})
    assert _pools(small_call)["A100"] == 2000
    change.refresh_from_db()
    assert change.state == "under_review"
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_to_change_an_allocation_suspended_meanwhile(
    allocation, owner, staff, reviewer2, small_call
):
    from quotas.services import allocation_set_status

    change = builders.change_request_ready(owner, allocation, staff, reviewer2, gpu_requests={"A100": 100})
    allocation_set_status(
        allocation=allocation, staff=staff, status=AllocationStatus.SUSPENDED, reason="Misuse"
    )
    before = builders.row_counts()

    with pytest.raises(Conflict):
        _approve(change, staff)

    assert _budgets(allocation) == {"A100": 2000}
    assert _pools(small_call)["A100"] == 2000  # the pool debit was rolled back too
    change.refresh_from_db()
    assert change.state == "under_review"
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_audits_the_change_with_the_approval_reason(allocation, owner, staff, reviewer2):
    old_end = allocation.ends_on
    change = builders.change_request_ready(
        owner,
        allocation,
        staff,
        reviewer2,
        requested_end=old_end + timedelta(days=7),
        gpu_requests={"A100": 100},
    )
    _approve(change, staff, reason="Extension is reasonable.")

    event = AuditEvent.objects.get(target_id=allocation.public_id, action="allocation_changed")
    assert (event.actor, event.reason) == (staff, "Extension is reasonable.")
    assert event.data["application"] == str(change.public_id)
    assert event.data["added_gpu_hours"] == {"A100": 100}
    assert event.data["before"]["ends_on"] == str(old_end)
    assert event.data["after"]["ends_on"] == str(old_end + timedelta(days=7))


@pytest.mark.django_db
def test_it_sends_a_change_through_the_same_review(allocation, owner, staff, reviewer2):
    change = quota_services.change_request_create(
        user=owner,
        allocation=allocation,
        requested_end=allocation.ends_on,
        max_concurrent_gpus=8,
        justification="More",
        gpu_requests={"A100": 100},
    )
    with pytest.raises(Conflict) as excinfo:
        _approve(change, staff)
    assert excinfo.value.code == "illegal_transition"
    builders.submitted(change, owner)
    builders.under_review(change, staff, reviewer2)
    with pytest.raises(Conflict) as excinfo:
        _approve(change, staff)
    assert excinfo.value.code == "no_reviews"
    assert _budgets(allocation) == {"A100": 2000}
