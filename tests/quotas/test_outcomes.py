"""The organisation's outcome reports: one per released stage and one final, with checked values."""

from datetime import timedelta

import pytest

from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from quotas.models import AllocationStatus, OutcomeReport, StageState
from quotas.outcomes import outcome_report_opens_on, outcome_report_submit
from tests import builders
from tests.stage_builders import staged

pytestmark = pytest.mark.django_db

GOOD = {
    "publications": 2,
    "patents": 1,
    "products": 0,
    "models_released": 1,
    "datasets_released": 0,
    "follow_on_investment_krw": 1_500_000_000,
    "hires": 3,
    "satisfaction": 4,
    "would_apply_again": True,
    "comment": "Queue times were short.",
}


def _submit(allocation, user, stage=None, today=None, **changes):
    today = today or outcome_report_opens_on(allocation, stage)
    return outcome_report_submit(
        allocation=allocation, user=user, stage=stage, values={**GOOD, **changes}, today=today
    )


def test_it_takes_the_final_report_from_30_days_before_the_end(allocation, owner):
    assert outcome_report_opens_on(allocation, None) == allocation.ends_on - timedelta(days=30)
    report = _submit(allocation, owner)
    assert (report.stage, report.follow_on_investment_krw, report.would_apply_again) == (
        None,
        1_500_000_000,
        True,
    )
    event = AuditEvent.objects.get(target_id=allocation.public_id, action="outcomes_reported")
    assert event.data["stage"] is None and "comment" not in event.data


def test_it_refuses_a_report_before_it_opens(allocation, owner):
    with pytest.raises(Conflict) as error:
        _submit(allocation, owner, today=allocation.ends_on - timedelta(days=31))
    assert error.value.code == "too_early"


def test_an_expired_award_still_reports(allocation, owner):
    type(allocation).objects.filter(pk=allocation.pk).update(status=AllocationStatus.EXPIRED)
    assert _submit(allocation, owner, today=allocation.ends_on + timedelta(days=60)).pk


@pytest.mark.parametrize("status", [AllocationStatus.AWAITING_AGREEMENT, AllocationStatus.LAPSED])
def test_an_award_that_never_started_has_nothing_to_report(allocation, owner, status):
    type(allocation).objects.filter(pk=allocation.pk).update(status=status)
    allocation.refresh_from_db()
    with pytest.raises(Conflict) as error:
        _submit(allocation, owner)
    assert error.value.code == "not_started"


def test_one_per_stage_and_one_final(allocation, owner):
    stages = staged(allocation, [1, 2])
    first = _submit(allocation, owner, stage=1)
    assert first.stage == 1
    with pytest.raises(Conflict) as error:
        _submit(allocation, owner, stage=1)
    assert error.value.code == "already_reported"
    with pytest.raises(Conflict) as error:  # stage 2 was never released
        _submit(allocation, owner, stage=2)
    assert error.value.code == "stage_not_released"
    stages[1].state = StageState.RELEASED
    stages[1].save()
    _submit(allocation, owner, stage=2)
    _submit(allocation, owner)
    with pytest.raises(Conflict):
        _submit(allocation, owner)
    assert list(OutcomeReport.objects.values_list("stage", flat=True).order_by("pk")) == [1, 2, None]


def test_a_stage_the_award_does_not_have_is_a_field_error(allocation, owner):
    with pytest.raises(InvalidInput) as error:
        outcome_report_submit(allocation=allocation, user=owner, stage=3, values=GOOD)
    assert list(error.value.fields) == ["stage"]


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"publications": -1}, {"publications": ["From 0 to 100,000."]}),
        ({"hires": 100_001}, {"hires": ["From 0 to 100,000."]}),
        ({"patents": 1.5}, {"patents": ["Must be a whole number."]}),
        ({"products": True}, {"products": ["Must be a whole number."]}),
        (
            {"follow_on_investment_krw": 10**15 + 1},
            {"follow_on_investment_krw": ["From 0 to 1,000,000,000,000,000."]},
        ),
        ({"satisfaction": 0}, {"satisfaction": ["From 1 to 5."]}),
        ({"satisfaction": 6}, {"satisfaction": ["From 1 to 5."]}),
        ({"satisfaction": None}, {"satisfaction": ["This field is required."]}),
        ({"would_apply_again": "yes"}, {"would_apply_again": ["Must be true or false."]}),
        ({"comment": "x" * 4001}, {"comment": ["At most 4,000 characters."]}),
        ({"comment": 5}, {"comment": ["Must be text."]}),
        ({"citations": 3}, {"citations": ["Not a field of an outcome report."]}),
    ],
)
def test_it_refuses_bad_values_and_writes_nothing(allocation, owner, changes, fields):
    before = OutcomeReport.objects.count()
    with pytest.raises(InvalidInput) as error:
        _submit(allocation, owner, **changes)
    assert error.value.fields == fields
    assert OutcomeReport.objects.count() == before


def test_counts_default_to_zero(allocation, owner):
    report = outcome_report_submit(
        allocation=allocation,
        user=owner,
        stage=None,
        values={"satisfaction": 5, "would_apply_again": False},
        today=allocation.ends_on,
    )
    assert (report.publications, report.follow_on_investment_krw, report.comment) == (0, 0, "")


@pytest.mark.parametrize("who", ["teammate", "outsider", "staff"])
def test_only_owners_and_managers_report(allocation, who, request):
    with pytest.raises(NotAllowed):
        _submit(allocation, request.getfixturevalue(who))


def test_a_manager_reports(allocation, organisation):
    manager = builders.make_user()
    builders.add_member(organisation, manager, role="manager")
    assert _submit(allocation, manager).submitted_by == manager
