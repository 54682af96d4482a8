"""Creating a draft application: bad input is refused field by field, and nothing is written."""

from datetime import date, timedelta

import pytest

from portal.applications import services
from portal.applications.models import Application
from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from tests import builders


def _create(user, organisation, call, **overrides):
    return services.application_create(
        user=user, organisation=organisation, call=call, **builders.application_content(call, **overrides)
    )


@pytest.mark.django_db
def test_it_creates_a_draft_with_its_gpu_requests(owner, organisation, call):
    application = _create(owner, organisation, call, gpu_requests={"A100": 2000, "H100": 300})

    assert application.state == "draft"
    assert application.review_round == 1
    assert application.created_by == owner
    assert {
        (line.gpu_type, line.gpu_hours, line.awarded_gpu_hours) for line in application.gpu_requests.all()
    } == {
        ("A100", 2000, None),
        ("H100", 300, None),
    }
    assert application.requested_gpu_hours_total == 2300
    event = AuditEvent.objects.get(target_id=application.public_id)
    assert (event.action, event.actor, event.to_state) == ("created", owner, "draft")


@pytest.mark.django_db
def test_it_lets_a_plain_member_apply(teammate, organisation, call):
    assert _create(teammate, organisation, call).created_by == teammate


@pytest.mark.django_db
def test_it_drops_zero_hour_lines(owner, organisation, call):
    application = _create(owner, organisation, call, gpu_requests={"A100": 100, "H100": 0})
    assert [line.gpu_type for line in application.gpu_requests.all()] == ["A100"]


def _day(call, offset: int) -> date:
    return call.allocation_start + timedelta(days=offset)


# (case id, overrides as a function of the call, fields expected in the error)
BAD_INPUT = [
    ("missing-title", lambda c: {"project_title": ""}, {"project_title"}),
    ("blank-title", lambda c: {"project_title": "   "}, {"project_title"}),
    ("title-not-text", lambda c: {"project_title": None}, {"project_title"}),
    ("missing-summary", lambda c: {"summary": ""}, {"summary"}),
    ("missing-justification", lambda c: {"justification": ""}, {"justification"}),
    ("title-201", lambda c: {"project_title": "t" * 201}, {"project_title"}),
    ("summary-5001", lambda c: {"summary": "s" * 5001}, {"summary"}),
    ("justification-10001", lambda c: {"justification": "j" * 10001}, {"justification"}),
    ("unknown-field", lambda c: {"field": "astrology"}, {"field"}),
    ("missing-start", lambda c: {"requested_start": None}, {"requested_start"}),
    ("missing-end", lambda c: {"requested_end": None}, {"requested_end"}),
    ("start-as-text", lambda c: {"requested_start": "2026-01-01"}, {"requested_start"}),
    (
        "end-before-start",
        lambda c: {"requested_start": _day(c, 10), "requested_end": _day(c, 5)},
        {"requested_end"},
    ),
    (
        "end-equals-start",
        lambda c: {"requested_start": _day(c, 10), "requested_end": _day(c, 10)},
        {"requested_end"},
    ),
    ("start-before-period", lambda c: {"requested_start": _day(c, -1)}, {"requested_start"}),
    (
        "end-after-period",
        lambda c: {"requested_end": c.allocation_end + timedelta(days=1)},
        {"requested_end"},
    ),
    (
        "both-outside-period",
        lambda c: {"requested_start": _day(c, -30), "requested_end": c.allocation_end + timedelta(days=30)},
        {"requested_start", "requested_end"},
    ),
    ("concurrency-0", lambda c: {"max_concurrent_gpus": 0}, {"max_concurrent_gpus"}),
    ("concurrency-negative", lambda c: {"max_concurrent_gpus": -8}, {"max_concurrent_gpus"}),
    ("concurrency-4097", lambda c: {"max_concurrent_gpus": 4097}, {"max_concurrent_gpus"}),
    ("concurrency-float", lambda c: {"max_concurrent_gpus": 8.0}, {"max_concurrent_gpus"}),
    ("concurrency-text", lambda c: {"max_concurrent_gpus": "8"}, {"max_concurrent_gpus"}),
    ("concurrency-bool", lambda c: {"max_concurrent_gpus": True}, {"max_concurrent_gpus"}),
    ("hours-negative", lambda c: {"gpu_requests": {"A100": -5}}, {"gpu_requests"}),
    ("hours-over-cap", lambda c: {"gpu_requests": {"A100": 20_001}}, {"gpu_requests"}),
    ("hours-absurd", lambda c: {"gpu_requests": {"A100": 10**12}}, {"gpu_requests"}),
    ("hours-float", lambda c: {"gpu_requests": {"A100": 10.5}}, {"gpu_requests"}),
    ("hours-text", lambda c: {"gpu_requests": {"A100": "100"}}, {"gpu_requests"}),
    ("hours-bool", lambda c: {"gpu_requests": {"A100": True}}, {"gpu_requests"}),
    ("unknown-gpu-type", lambda c: {"gpu_requests": {"TPUv5": 100}}, {"gpu_requests"}),
    ("gpu-type-not-offered", lambda c: {"gpu_requests": {"L40S": 100}}, {"gpu_requests"}),
    ("no-hours-at-all", lambda c: {"gpu_requests": {}}, {"gpu_requests"}),
    ("only-zero-hours", lambda c: {"gpu_requests": {"A100": 0}}, {"gpu_requests"}),
    ("requests-not-a-dict", lambda c: {"gpu_requests": [("A100", 100)]}, {"gpu_requests"}),
    (
        "many-things-wrong",
        lambda c: {"project_title": "", "max_concurrent_gpus": 0, "gpu_requests": {"A100": -1}},
        {"project_title", "max_concurrent_gpus", "gpu_requests"},
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "fields"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_it_refuses_bad_input_and_writes_nothing(owner, organisation, call, overrides, fields):
    before = builders.row_counts()

    with pytest.raises(InvalidInput) as excinfo:
        _create(owner, organisation, call, **overrides(call))

    assert set(excinfo.value.fields) == fields
    assert all(excinfo.value.fields[name] for name in fields)  # each field says what is wrong
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "limit"), [("project_title", 200), ("summary", 5000), ("justification", 10000)]
)
def test_it_accepts_text_exactly_at_the_limit(owner, organisation, call, name, limit):
    application = _create(owner, organisation, call, **{name: "x" * limit})
    assert len(getattr(application, name)) == limit


@pytest.mark.django_db
def test_it_accepts_hours_exactly_at_the_per_application_cap(owner, organisation, call):
    application = _create(owner, organisation, call, gpu_requests={"A100": 20_000})
    assert application.requested_gpu_hours_total == 20_000


@pytest.mark.django_db
def test_it_names_the_offending_gpu_type(owner, organisation, call):
    with pytest.raises(InvalidInput) as excinfo:
        _create(owner, organisation, call, gpu_requests={"A100": 100, "TPUv5": 5, "H100": 10_001})
    messages = excinfo.value.fields["gpu_requests"]
    assert sorted(message.split(":")[0] for message in messages) == ["H100", "TPUv5"]
    assert "offered: A100, H100" in " ".join(messages)


@pytest.mark.django_db
def test_it_refuses_an_ineligible_organisation_type(owner, staff):
    university = builders.make_org(owner, org_type="university", staff=staff)
    sme_only = builders.make_call(staff, eligible=["sme", "startup"])
    before = builders.row_counts()

    with pytest.raises(InvalidInput) as excinfo:
        _create(owner, university, sme_only)

    assert set(excinfo.value.fields) == {"organisation"}
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_a_non_member(outsider, organisation, call):
    before = builders.row_counts()
    with pytest.raises(NotAllowed):
        _create(outsider, organisation, call)
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["closed", "upcoming"])
def test_it_refuses_a_call_that_is_not_open(owner, organisation, staff, when):
    from django.utils import timezone

    if when == "upcoming":
        not_open = builders.make_call(staff, open_now=False)
    else:
        now = timezone.now()
        not_open = builders.make_call(
            staff, opens_at=now - timedelta(days=40), closes_at=now - timedelta(days=1)
        )
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        _create(owner, organisation, not_open)

    assert excinfo.value.code == "call_closed"
    assert builders.row_counts() == before
    assert not Application.objects.exists()
