"""A staged award's mid-term report and staff's release or return of the next stage."""

from datetime import timedelta

import pytest

from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.models import Notification
from quotas.models import AllocationBudget, AllocationStage, AllocationStatus, CallPool, StageState
from quotas.stages import stage_evaluate, stage_report_opens_on, stage_report_submit
from tests import builders
from tests.stage_builders import stage_split, staged

pytestmark = pytest.mark.django_db


@pytest.fixture
def stages(allocation):
    """2,000 A100 GPU-hours over three stages of 2, 2 and 1 months: 800, 800 and 400 GPU-hours."""
    return staged(allocation, [2, 2, 1])


def _report_day(stage):
    return stage_report_opens_on(stage)


def _report(allocation, user, number=2, report="Trained the 1B model; the 7B run is next.", today=None):
    stage = allocation.stages.get(number=number)
    return stage_report_submit(
        allocation=allocation, user=user, number=number, report=report, today=today or _report_day(stage)
    )


def _budget(allocation, gpu_type="A100"):
    return AllocationBudget.objects.get(allocation=allocation, gpu_type=gpu_type).awarded_gpu_hours


def _pool(call, gpu_type="A100"):
    return CallPool.objects.get(call=call, gpu_type=gpu_type).awarded_gpu_hours


def test_the_builder_splits_like_a_round():
    assert stage_split(2000, [2, 2, 1]) == [800, 800, 400]
    assert stage_split(1000, [5, 5, 2]) == [416, 416, 168]  # the remainder goes to the last


def test_it_takes_the_owners_report_on_the_next_stage(allocation, stages, owner, teammate):
    stage = _report(allocation, owner)
    assert (stage.number, stage.state, stage.reported_by) == (2, StageState.REPORTED, owner)
    assert stage.report == "Trained the 1B model; the 7B run is next."
    assert AuditEvent.objects.filter(target_id=allocation.public_id, action="stage_reported").count() == 1
    received = Notification.objects.filter(subject__startswith="Mid-term report received")
    assert list(received.values_list("recipient", flat=True)) == [owner.pk]


def test_a_manager_may_report_too(allocation, stages, organisation):
    manager = builders.make_user()
    builders.add_member(organisation, manager, role="manager")
    assert _report(allocation, manager).state == StageState.REPORTED


@pytest.mark.parametrize("who", ["teammate", "outsider", "staff"])
def test_it_refuses_reports_from_anyone_but_owners_and_managers(allocation, stages, who, request):
    with pytest.raises(NotAllowed):
        _report(allocation, request.getfixturevalue(who))
    assert allocation.stages.get(number=2).state == StageState.PENDING


@pytest.mark.parametrize(
    ("report", "message"), [("", "Write the mid-term report."), ("   ", "Write the mid-term report.")]
)
def test_it_refuses_an_empty_report(allocation, stages, owner, report, message):
    with pytest.raises(InvalidInput) as error:
        _report(allocation, owner, report=report)
    assert error.value.fields == {"report": [message]}


def test_it_refuses_a_report_too_long(allocation, stages, owner):
    with pytest.raises(InvalidInput) as error:
        _report(allocation, owner, report="x" * 10_001)
    assert error.value.fields == {"report": ["At most 10,000 characters."]}


def test_it_refuses_a_report_before_the_window_opens(allocation, stages, owner):
    stage = allocation.stages.get(number=2)
    with pytest.raises(Conflict) as error:
        _report(allocation, owner, today=stage.starts_on - timedelta(days=31))
    assert error.value.code == "too_early"
    assert stage_report_opens_on(stage) == stage.starts_on - timedelta(days=30)


def test_it_refuses_any_stage_but_the_next(allocation, stages, owner):
    with pytest.raises(Conflict) as error:
        _report(allocation, owner, number=3)
    assert error.value.code == "not_next_stage"


def test_it_refuses_a_second_report_while_the_first_awaits_evaluation(allocation, stages, owner):
    _report(allocation, owner)
    with pytest.raises(Conflict) as error:
        _report(allocation, owner)
    assert error.value.code == "no_pending_stage"


def test_it_refuses_when_the_award_has_no_stages(allocation, owner):
    with pytest.raises(Conflict) as error:
        stage_report_submit(allocation=allocation, user=owner, number=2, report="Going well")
    assert error.value.code == "no_pending_stage"


def test_it_refuses_reports_on_a_suspended_award(allocation, stages, owner):
    type(allocation).objects.filter(pk=allocation.pk).update(status=AllocationStatus.SUSPENDED)
    with pytest.raises(Conflict) as error:
        _report(allocation, owner)
    assert error.value.code == "allocation_not_active"


def test_release_adds_the_stage_to_the_budget_and_leaves_the_pool(allocation, stages, owner, staff, call):
    assert (_budget(allocation), _pool(call)) == (800, 2000)
    _report(allocation, owner)
    stage = stage_evaluate(
        allocation=allocation, staff=staff, number=2, decision="release", evaluation="Good progress."
    )
    assert (stage.state, stage.evaluated_by, stage.evaluation) == (
        StageState.RELEASED,
        staff,
        "Good progress.",
    )
    assert (_budget(allocation), _pool(call)) == (1600, 2000)
    event = AuditEvent.objects.get(target_id=allocation.public_id, action="stage_released")
    assert (event.actor, event.reason, event.data["stage"]) == (staff, "Good progress.", 2)
    assert Notification.objects.filter(recipient=owner, subject__startswith="Stage 2 released").exists()
    # Then stage 3 is next.
    assert _report(allocation, owner, number=3).state == StageState.REPORTED


def test_return_gives_this_and_later_stages_back_to_the_pool(
    allocation, stages, owner, staff, call, django_capture_on_commit_callbacks
):
    _report(allocation, owner)
    with django_capture_on_commit_callbacks(execute=True):
        stage = stage_evaluate(
            allocation=allocation, staff=staff, number=2, decision="return", evaluation="No progress."
        )
    assert stage.state == StageState.RETURNED
    assert list(allocation.stages.values_list("state", flat=True)) == ["released", "returned", "returned"]
    # Exactly stages 2 and 3's GPU-hours leave the pool's awarded total; the budget keeps stage 1.
    assert (_budget(allocation), _pool(call)) == (800, 800)
    event = AuditEvent.objects.get(target_id=allocation.public_id, action="stage_returned")
    assert event.data["stages"] == [2, 3]
    assert Notification.objects.filter(recipient=owner, subject__startswith="Stage 2 not released").exists()
    # Nothing is left to report on.
    with pytest.raises(Conflict):
        _report(allocation, owner, number=3)


@pytest.mark.parametrize(
    ("decision", "evaluation", "fields"),
    [
        ("keep", "Fine", {"decision": ["Choose release or return."]}),
        ("release", "", {"evaluation": ["Give the evaluation; the organisation sees it."]}),
        ("return", "x" * 4001, {"evaluation": ["At most 4,000 characters."]}),
    ],
)
def test_it_refuses_bad_evaluations(allocation, stages, owner, staff, decision, evaluation, fields):
    _report(allocation, owner)
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as error:
        stage_evaluate(allocation=allocation, staff=staff, number=2, decision=decision, evaluation=evaluation)
    assert error.value.fields == fields
    assert builders.row_counts() == before


def test_only_staff_evaluate(allocation, stages, owner):
    _report(allocation, owner)
    with pytest.raises(NotAllowed):
        stage_evaluate(allocation=allocation, staff=owner, number=2, decision="release", evaluation="Mine!")


def test_it_refuses_to_evaluate_a_stage_without_a_report(allocation, stages, staff, call):
    with pytest.raises(Conflict) as error:
        stage_evaluate(allocation=allocation, staff=staff, number=2, decision="return", evaluation="Silent.")
    assert error.value.code == "not_reported"
    with pytest.raises(Conflict) as error:
        stage_evaluate(allocation=allocation, staff=staff, number=9, decision="return", evaluation="No.")
    assert error.value.code == "no_stage"
    assert _pool(call) == 2000


def test_it_decides_a_stage_once(allocation, stages, owner, staff, call):
    _report(allocation, owner)
    stage_evaluate(allocation=allocation, staff=staff, number=2, decision="return", evaluation="No.")
    with pytest.raises(Conflict):
        stage_evaluate(allocation=allocation, staff=staff, number=2, decision="return", evaluation="No.")
    assert _pool(call) == 800


def test_a_suspended_award_may_be_returned_but_not_released(allocation, stages, owner, staff, call):
    _report(allocation, owner)
    type(allocation).objects.filter(pk=allocation.pk).update(status=AllocationStatus.SUSPENDED)
    with pytest.raises(Conflict) as error:
        stage_evaluate(allocation=allocation, staff=staff, number=2, decision="release", evaluation="Yes.")
    assert error.value.code == "allocation_not_active"
    stage_evaluate(allocation=allocation, staff=staff, number=2, decision="return", evaluation="No.")
    assert _pool(call) == 800


def test_the_pool_never_goes_above_its_total_nor_below_zero(allocation, stages, owner, staff, call):
    _report(allocation, owner)
    stage_evaluate(allocation=allocation, staff=staff, number=2, decision="release", evaluation="Yes.")
    _report(allocation, owner, number=3)
    stage_evaluate(allocation=allocation, staff=staff, number=3, decision="return", evaluation="Enough.")
    pool = CallPool.objects.get(call=call, gpu_type="A100")
    assert 0 <= pool.awarded_gpu_hours <= pool.total_gpu_hours
    released = sum(s.gpu_hours for s in AllocationStage.objects.filter(state="released"))
    assert pool.awarded_gpu_hours == released == _budget(allocation) == 1600
