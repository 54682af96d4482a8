"""Editing a call: pools may grow or shrink, but never below what is already awarded."""

import pytest

from portal.audit.models import AuditEvent
from portal.errors import InvalidInput, NotAllowed
from quotas.calls import call_update
from quotas.models import CallPool
from tests import builders


def _update(call, staff, pools, **overrides):
    content = dict(
        title=call.title,
        description=call.description,
        opens_at=call.opens_at,
        closes_at=call.closes_at,
        eligible_org_types=call.eligible_org_types,
        allocation_start=call.allocation_start,
        allocation_end=call.allocation_end,
        pools=pools,
    )
    content.update(overrides)
    return call_update(call=call, staff=staff, **content)


def _pool(gpu_type, total, cap):
    return {"gpu_type": gpu_type, "total_gpu_hours": total, "max_gpu_hours_per_application": cap}


def _pools(call):
    return {
        p.gpu_type: (p.total_gpu_hours, p.awarded_gpu_hours, p.max_gpu_hours_per_application)
        for p in CallPool.objects.filter(call=call)
    }


@pytest.fixture
def awarded_call(owner, organisation, call, staff, reviewer):
    """The default call with 3,000 A100 GPU-hours awarded."""
    builders.approved(owner, organisation, call, staff, reviewer, gpu_requests={"A100": 3000})
    return call


@pytest.mark.django_db
def test_it_edits_the_call_and_its_pools(awarded_call, staff):
    _update(awarded_call, staff, [_pool("A100", 3000, 3000), _pool("L40S", 500, 50)], title="Renamed")
    awarded_call.refresh_from_db()
    assert awarded_call.title == "Renamed"
    # A100 shrunk to exactly what is awarded; H100 (nothing awarded) removed; L40S added.
    assert _pools(awarded_call) == {"A100": (3000, 3000, 3000), "L40S": (500, 0, 50)}
    assert AuditEvent.objects.filter(target_id=awarded_call.public_id, action="call_updated").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("pools", "message"),
    [
        ([_pool("A100", 2999, 2999), _pool("H100", 50_000, 10_000)], "already awarded"),
        ([_pool("H100", 50_000, 10_000)], "cannot be removed"),
    ],
    ids=["shrunk-below-awarded", "awarded-pool-removed"],
)
def test_it_refuses_to_lose_awarded_hours(awarded_call, staff, pools, message):
    pools_before = _pools(awarded_call)
    before = builders.row_counts()

    with pytest.raises(InvalidInput) as excinfo:
        _update(awarded_call, staff, pools, title="Should not stick")

    assert list(excinfo.value.fields) == ["pools"]
    assert message in excinfo.value.fields["pools"][0]
    awarded_call.refresh_from_db()
    assert awarded_call.title != "Should not stick"
    assert _pools(awarded_call) == pools_before
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("pools", "overrides", "fields"),
    [
        ([_pool("A100", 100, 101)], {}, {"pools"}),
        ([_pool("A100", 100, 10), _pool("A100", 100, 10)], {}, {"pools"}),
        ([_pool("B200", 100, 10)], {}, {"pools"}),
        ([_pool("A100", 100_000, 100)], {"closes_at": None}, {"closes_at"}),
        ([_pool("A100", 100_000, 100)], {"title": ""}, {"title"}),
    ],
)
def test_it_refuses_bad_input(call, staff, pools, overrides, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        _update(call, staff, pools, **overrides)
    assert set(excinfo.value.fields) == fields
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_lets_only_staff_edit(call, owner):
    with pytest.raises(NotAllowed):
        _update(call, owner, [_pool("A100", 1, 1)])
    assert _pools(call)["A100"] == (100_000, 0, 20_000)
