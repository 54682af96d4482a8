"""Opening a call with its GPU-hour pools (staff only); bad input writes nothing."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.calls.selectors import calls_open, calls_visible_to
from portal.errors import InvalidInput, NotAllowed
from quotas.calls import call_create
from quotas.models import CallPool
from tests import builders

NOW = timezone.now()


def _valid(**overrides) -> dict:
    content = dict(
        title="2027 national AI compute",
        description="GPU-hours for Korean SMEs and universities.",
        opens_at=NOW - timedelta(days=1),
        closes_at=NOW + timedelta(days=30),
        eligible_org_types=["sme", "university"],
        allocation_start=date.today() + timedelta(days=40),
        allocation_end=date.today() + timedelta(days=400),
        pools=[
            {"gpu_type": "A100", "total_gpu_hours": 100_000, "max_gpu_hours_per_application": 10_000},
            {"gpu_type": "H100", "total_gpu_hours": 20_000, "max_gpu_hours_per_application": 20_000},
        ],
    )
    content.update(overrides)
    return content


def _pool(gpu_type="A100", total=1000, cap=100):
    return {"gpu_type": gpu_type, "total_gpu_hours": total, "max_gpu_hours_per_application": cap}


@pytest.mark.django_db
def test_it_creates_a_call_with_its_pools(staff):
    call = call_create(staff=staff, **_valid(eligible_org_types=["university", "sme", "sme"]))
    assert call.eligible_org_types == ["sme", "university"]
    assert call.status == "open"
    assert [
        (p.gpu_type, p.total_gpu_hours, p.awarded_gpu_hours, p.max_gpu_hours_per_application)
        for p in CallPool.objects.filter(call=call)
    ] == [("A100", 100_000, 0, 10_000), ("H100", 20_000, 0, 20_000)]
    event = AuditEvent.objects.get(target_id=call.public_id)
    assert (event.action, event.actor) == ("call_created", staff)
    assert list(calls_open()) == [call]


BAD = [
    ("missing-title", {"title": ""}, {"title"}),
    ("title-201", {"title": "t" * 201}, {"title"}),
    ("description-5001", {"description": "d" * 5001}, {"description"}),
    ("missing-opens", {"opens_at": None}, {"opens_at"}),
    ("missing-closes", {"closes_at": None}, {"closes_at"}),
    ("missing-allocation-start", {"allocation_start": None}, {"allocation_start"}),
    ("missing-allocation-end", {"allocation_end": None}, {"allocation_end"}),
    ("closes-before-opens", {"closes_at": NOW - timedelta(days=2)}, {"closes_at"}),
    ("closes-when-opens", {"closes_at": NOW - timedelta(days=1)}, {"closes_at"}),
    (
        "allocation-ends-before-start",
        {"allocation_end": date.today() + timedelta(days=39)},
        {"allocation_end"},
    ),
    (
        "allocation-ends-before-call-closes",
        {
            "allocation_start": date.today() - timedelta(days=10),
            "allocation_end": date.today() + timedelta(days=5),
        },
        {"allocation_end"},
    ),
    ("no-org-types", {"eligible_org_types": []}, {"eligible_org_types"}),
    ("unknown-org-type", {"eligible_org_types": ["sme", "hedge_fund"]}, {"eligible_org_types"}),
    ("no-pools", {"pools": []}, {"pools"}),
    ("unknown-gpu-type", {"pools": [_pool("TPUv5")]}, {"pools"}),
    ("duplicate-gpu-type", {"pools": [_pool("A100"), _pool("A100")]}, {"pools"}),
    ("cap-above-pool", {"pools": [_pool(total=1000, cap=1001)]}, {"pools"}),
    ("cap-zero", {"pools": [_pool(cap=0)]}, {"pools"}),
    ("pool-zero", {"pools": [_pool(total=0, cap=0)]}, {"pools"}),
    ("pool-negative", {"pools": [_pool(total=-5, cap=1)]}, {"pools"}),
    ("pool-absurd", {"pools": [_pool(total=10**9, cap=1)]}, {"pools"}),
    ("pool-float", {"pools": [_pool(total=1000.0, cap=10)]}, {"pools"}),
    ("cap-text", {"pools": [_pool(cap="10")]}, {"pools"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "fields"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_it_refuses_bad_input_and_writes_nothing(staff, overrides, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        call_create(staff=staff, **_valid(**overrides))
    assert set(excinfo.value.fields) == fields
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_reports_every_bad_pool(staff):
    with pytest.raises(InvalidInput) as excinfo:
        call_create(staff=staff, **_valid(pools=[_pool("TPUv5"), _pool("H100", cap=5000), _pool("H100")]))
    assert len(excinfo.value.fields["pools"]) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "reviewer"])
def test_it_lets_only_staff_open_calls(request, who):
    actor = request.getfixturevalue(who)
    before = builders.row_counts()
    with pytest.raises(NotAllowed):
        call_create(staff=actor, **_valid())
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_hides_upcoming_calls_from_applicants(staff, owner):
    upcoming = builders.make_call(staff, open_now=False)
    current = builders.make_call(staff)
    assert set(calls_visible_to(staff)) == {upcoming, current}
    assert list(calls_visible_to(owner)) == [current]
    assert list(calls_open()) == [current]
    assert upcoming.status == "upcoming"
