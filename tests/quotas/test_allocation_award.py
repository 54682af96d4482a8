"""Approval moves GPU-hours from the call's pool into a new allocation, and never over-awards a pool."""

import pytest

from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput
from quotas import services as quota_services
from quotas.calls import call_update
from quotas.models import Allocation, AllocationStatus, CallPool
from tests import builders


def _pool(call, gpu_type="A100") -> CallPool:
    return CallPool.objects.get(call=call, gpu_type=gpu_type)


def _approve(application, staff, awarded=None, reason="Strong proposal."):
    return quota_services.application_decide(
        application=application, staff=staff, decision="approve", reason=reason, awarded_gpu_hours=awarded
    )


@pytest.fixture
def two_type_application(owner, organisation, call, staff, reviewer):
    return builders.ready_for_decision(
        owner,
        organisation,
        call,
        staff,
        reviewer,
        gpu_requests={"A100": 2000, "H100": 800},
        max_concurrent_gpus=16,
    )


@pytest.mark.django_db
def test_it_creates_an_allocation_with_the_awarded_budgets(two_type_application, organisation, call, staff):
    application = two_type_application
    _approve(application, staff, awarded={"A100": 1500, "H100": 800})

    application.refresh_from_db()
    assert (application.state, application.decided_by, application.decision_reason) == (
        "approved",
        staff,
        "Strong proposal.",
    )
    assert application.decided_at is not None
    allocation = Allocation.objects.get(application=application)
    assert (allocation.organisation, allocation.call, allocation.status) == (
        organisation,
        call,
        AllocationStatus.ACTIVE,
    )
    assert (
        allocation.project_title,
        allocation.starts_on,
        allocation.ends_on,
        allocation.max_concurrent_gpus,
    ) == (
        application.project_title,
        application.requested_start,
        application.requested_end,
        16,
    )
    assert [
        (b.gpu_type, b.awarded_gpu_hours, b.used_gpu_seconds, b.held_gpu_seconds)
        for b in allocation.budgets.all()
    ] == [
        ("A100", 1500, 0, 0),
        ("H100", 800, 0, 0),
    ]
    assert (_pool(call, "A100").awarded_gpu_hours, _pool(call, "H100").awarded_gpu_hours) == (1500, 800)
    assert [
        (line.gpu_type, line.gpu_hours, line.awarded_gpu_hours) for line in application.gpu_requests.all()
    ] == [
        ("A100", 2000, 1500),
        ("H100", 800, 800),
    ]


@pytest.mark.django_db
def test_it_awards_what_was_requested_by_default(owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    _approve(application, staff)
    allocation = Allocation.objects.get(application=application)
    assert [(b.gpu_type, b.awarded_gpu_hours) for b in allocation.budgets.all()] == [("A100", 2000)]
    assert _pool(call).awarded_gpu_hours == 2000


@pytest.mark.django_db
def test_it_leaves_out_a_gpu_type_awarded_nothing(two_type_application, call, staff):
    _approve(two_type_application, staff, awarded={"A100": 1000})
    allocation = Allocation.objects.get(application=two_type_application)
    assert [(b.gpu_type, b.awarded_gpu_hours) for b in allocation.budgets.all()] == [("A100", 1000)]
    assert _pool(call, "H100").awarded_gpu_hours == 0
    assert dict(two_type_application.gpu_requests.values_list("gpu_type", "awarded_gpu_hours")) == {
        "A100": 1000,
        "H100": 0,
    }


@pytest.mark.django_db
def test_it_adds_up_awards_in_the_pool(owner, organisation, call, staff, reviewer):
    for hours in (2000, 3000, 4000):
        application = builders.ready_for_decision(
            owner, organisation, call, staff, reviewer, gpu_requests={"A100": hours}
        )
        _approve(application, staff)
    assert _pool(call).awarded_gpu_hours == 9000
    assert _pool(call).available_gpu_hours == 100_000 - 9000


@pytest.mark.parametrize(
    ("awarded", "problem"),
    [
        ({"A100": 2001}, "A100: at most"),
        ({"A100": -1}, "A100: a whole"),
        ({"A100": 10.5}, "A100: a whole"),
        ({"A100": "100"}, "A100: a whole"),
        ({"A100": True}, "A100: a whole"),
        ({"V100": 10}, "V100: not requested"),
        ({"H100": 10}, "H100: not requested"),
        ({}, "Award GPU-hours"),
        ({"A100": 0}, "Award GPU-hours"),
        ([("A100", 10)], "Give GPU-hours"),
    ],
)
@pytest.mark.django_db
def test_it_refuses_a_bad_award_and_writes_nothing(
    owner, organisation, call, staff, reviewer, awarded, problem
):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    before = builders.row_counts()

    with pytest.raises(InvalidInput) as excinfo:
        _approve(application, staff, awarded=awarded)

    assert list(excinfo.value.fields) == ["awarded_gpu_hours"]
    assert excinfo.value.fields["awarded_gpu_hours"][0].startswith(problem)
    application.refresh_from_db()
    assert application.state == "under_review"
    assert _pool(call).awarded_gpu_hours == 0
    assert builders.row_counts() == before


@pytest.fixture
def small_call(staff):
    return builders.make_call(staff, pools={"A100": (5000, 4000), "H100": (1000, 1000)})


@pytest.mark.django_db
def test_it_awards_exactly_what_is_left(owner, organisation, small_call, staff, reviewer):
    first = builders.ready_for_decision(
        owner, organisation, small_call, staff, reviewer, gpu_requests={"A100": 3000}
    )
    second = builders.ready_for_decision(
        owner, organisation, small_call, staff, reviewer, gpu_requests={"A100": 2000}
    )
    _approve(first, staff)
    _approve(second, staff)
    assert _pool(small_call).awarded_gpu_hours == _pool(small_call).total_gpu_hours == 5000


@pytest.mark.django_db
def test_it_refuses_an_award_beyond_the_pool_and_writes_nothing(
    owner, organisation, small_call, staff, reviewer
):
    first = builders.ready_for_decision(
        owner, organisation, small_call, staff, reviewer, gpu_requests={"A100": 4000}
    )
    second = builders.ready_for_decision(
        owner, organisation, small_call, staff, reviewer, gpu_requests={"A100": 1001}
    )
    _approve(first, staff)
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _approve(second, staff)

    assert excinfo.value.code == "pool_exhausted"
    assert excinfo.value.fields["awarded_gpu_hours"] == [
        "A100: 1,001 GPU-hours asked, 1,000 left in the call's pool."
    ]
    second.refresh_from_db()
    assert second.state == "under_review"
    assert list(second.gpu_requests.values_list("awarded_gpu_hours", flat=True)) == [None]
    assert _pool(small_call).awarded_gpu_hours == 4000
    assert builders.row_counts() == before

    # A smaller award that fits still works.
    _approve(second, staff, awarded={"A100": 1000})
    assert _pool(small_call).awarded_gpu_hours == 5000


@pytest.mark.django_db
def test_it_refuses_the_whole_award_when_one_gpu_type_is_short(
    owner, organisation, small_call, staff, reviewer
):
    application = builders.ready_for_decision(
        owner, organisation, small_call, staff, reviewer, gpu_requests={"A100": 100, "H100": 1000}
    )
    other = builders.ready_for_decision(
        owner, organisation, small_call, staff, reviewer, gpu_requests={"H100": 1}
    )
    _approve(other, staff)
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _approve(application, staff)

    assert excinfo.value.code == "pool_exhausted"
    assert [m.split(":")[0] for m in excinfo.value.fields["awarded_gpu_hours"]] == ["H100"]
    assert (_pool(small_call, "A100").awarded_gpu_hours, _pool(small_call, "H100").awarded_gpu_hours) == (
        0,
        1,
    )
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_a_gpu_type_the_call_stopped_offering(owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, gpu_requests={"H100": 100}
    )
    call_update(
        call=call,
        staff=staff,
        title=call.title,
        description=call.description,
        opens_at=call.opens_at,
        closes_at=call.closes_at,
        eligible_org_types=call.eligible_org_types,
        allocation_start=call.allocation_start,
        allocation_end=call.allocation_end,
        pools=[{"gpu_type": "A100", "total_gpu_hours": 100_000, "max_gpu_hours_per_application": 20_000}],
    )
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _approve(application, staff)

    assert excinfo.value.code == "pool_exhausted"
    assert "no longer offers" in excinfo.value.fields["awarded_gpu_hours"][0]
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_audits_the_award_on_both_objects(owner, organisation, call, staff, reviewer):
    application = builders.ready_for_decision(owner, organisation, call, staff, reviewer)
    _approve(application, staff, awarded={"A100": 1234}, reason="Good value.")
    allocation = Allocation.objects.get(application=application)

    approval = AuditEvent.objects.get(target_id=application.public_id, action="approve")
    assert (approval.actor, approval.from_state, approval.to_state, approval.reason) == (
        staff,
        "under_review",
        "approved",
        "Good value.",
    )
    assert approval.data == {"awarded_gpu_hours": {"A100": 1234}}
    created = AuditEvent.objects.get(target_id=allocation.public_id, action="allocation_created")
    assert (created.actor, created.to_state, created.reason) == (staff, "active", "Good value.")
