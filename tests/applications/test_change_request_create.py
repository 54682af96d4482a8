"""Drafting a change request (more GPU-hours and/or a later end) for an existing allocation."""

from datetime import timedelta

import pytest

from portal.errors import Conflict, InvalidInput, NotAllowed
from quotas import services as quota_services
from quotas.models import Allocation, AllocationStatus
from tests import builders


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    return builders.approved(owner, organisation, call, staff, reviewer)


def _request(allocation, user, **overrides):
    content = dict(
        requested_end=allocation.ends_on,
        max_concurrent_gpus=allocation.max_concurrent_gpus,
        justification="Scaling up after good results.",
        gpu_requests={"A100": 500},
    )
    content.update(overrides)
    return quota_services.change_request_create(user=user, allocation=allocation, **content)


@pytest.mark.django_db
def test_it_drafts_a_change_request_from_the_allocation(allocation, teammate):
    change = _request(allocation, teammate, requested_end=allocation.ends_on + timedelta(days=30))

    assert (change.kind, change.state, change.allocation, change.created_by) == (
        "change",
        "draft",
        allocation,
        teammate,
    )
    assert change.project_title == allocation.project_title
    assert change.requested_start == allocation.starts_on
    assert [(line.gpu_type, line.gpu_hours) for line in change.gpu_requests.all()] == [("A100", 500)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"gpu_requests": {}, "requested_end": "later"},
        {"gpu_requests": {"H100": 100}},
        {"gpu_requests": {}, "max_concurrent_gpus": 16},
    ],
    ids=["extension-only", "new-gpu-type", "concurrency-only"],
)
def test_it_accepts_any_one_real_change(allocation, owner, overrides):
    if overrides.get("requested_end") == "later":
        overrides["requested_end"] = allocation.ends_on + timedelta(days=1)
    assert _request(allocation, owner, **overrides).kind == "change"


BAD = [
    ("nothing-changes", lambda a: {"gpu_requests": {}}, {"gpu_requests"}),
    ("zero-hours-nothing-else", lambda a: {"gpu_requests": {"A100": 0}}, {"gpu_requests"}),
    ("shortens", lambda a: {"requested_end": a.ends_on - timedelta(days=1)}, {"requested_end"}),
    (
        "beyond-call-period",
        lambda a: {"requested_end": a.call.allocation_end + timedelta(days=1)},
        {"requested_end"},
    ),
    ("over-cap", lambda a: {"gpu_requests": {"A100": 20_001}}, {"gpu_requests"}),
    ("negative", lambda a: {"gpu_requests": {"A100": -1}}, {"gpu_requests"}),
    ("unknown-type", lambda a: {"gpu_requests": {"L40S": 10}}, {"gpu_requests"}),
    ("concurrency-0", lambda a: {"max_concurrent_gpus": 0}, {"max_concurrent_gpus"}),
    ("no-justification", lambda a: {"justification": ""}, {"justification"}),
    ("justification-10001", lambda a: {"justification": "j" * 10001}, {"justification"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "fields"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_it_refuses_bad_change_requests_and_writes_nothing(allocation, owner, overrides, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        _request(allocation, owner, **overrides(allocation))
    assert set(excinfo.value.fields) == fields
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_an_outsider(allocation, outsider):
    before = builders.row_counts()
    with pytest.raises(NotAllowed):
        _request(allocation, outsider)
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("status", [AllocationStatus.SUSPENDED, AllocationStatus.EXPIRED])
def test_it_refuses_an_allocation_that_is_not_active(allocation, owner, status):
    Allocation.objects.filter(pk=allocation.pk).update(status=status)
    allocation.refresh_from_db()
    before = builders.row_counts()
    with pytest.raises(Conflict):
        _request(allocation, owner)
    assert builders.row_counts() == before
