"""The monthly check of each active award's use against its plan: on plan, warned, reclaim proposed."""

from datetime import date

import pytest

from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from quotas.models import (
    AllocationBudget,
    AllocationStatus,
    Reclaim,
    ReclaimState,
    StageState,
    UsageCheck,
    UsageCheckAction,
)
from quotas.monitoring import plan_share, released_until, usage_checks_run
from tests.stage_builders import staged

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 1), date(2026, 10, 31)  # 304 days


@pytest.fixture
def award(allocation):
    """The owner's award, moved to 1 January – 31 October 2026: 2,000 A100 and 500 H100 GPU-hours."""
    type(allocation).objects.filter(pk=allocation.pk).update(starts_on=START, ends_on=END)
    allocation.refresh_from_db()
    return allocation


def _use(allocation, gpu_type, hours, held_hours=0):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type=gpu_type).update(
        used_gpu_seconds=int(hours * 3600), held_gpu_seconds=int(held_hours * 3600)
    )


def _check(allocation, month):
    return UsageCheck.objects.get(allocation=allocation, month=month)


@pytest.mark.parametrize(
    ("as_of", "starts_on", "share"),
    [
        (date(2025, 12, 1), START, 0.0),
        (date(2026, 2, 1), START, 31 / 304),
        (date(2026, 5, 1), START, 120 / 304),
        (date(2026, 11, 1), START, 1.0),
        (date(2027, 3, 1), START, 1.0),
    ],
)
def test_the_plan_grows_linearly_over_the_released_period(as_of, starts_on, share):
    assert plan_share(starts_on=starts_on, released_until=END, as_of=as_of) == pytest.approx(share)


def test_it_records_an_award_on_plan_and_tells_no_one(award):
    _use(award, "A100", 400)
    _use(award, "H100", 100)
    assert usage_checks_run(today=date(2026, 5, 17)) == 1
    check = _check(award, date(2026, 4, 1))
    # Plan: 2,500 × 120/304 = 986.84; used 500 is above half of it.
    assert (check.action, check.planned_gpu_hours, check.used_gpu_hours) == ("on_plan", 986.84, 500.0)
    assert not Notification.objects.filter(subject__contains="plan").exists()


def test_it_warns_first_then_proposes_a_reclaim_of_the_unused_plan(award, owner, teammate):
    _use(award, "A100", 150)
    assert usage_checks_run(today=date(2026, 5, 3)) == 1
    assert _check(award, date(2026, 4, 1)).action == UsageCheckAction.WARNED
    warned = Notification.objects.filter(subject__startswith="Behind plan")
    assert list(warned.values_list("recipient", flat=True)) == [owner.pk]  # not the plain member
    assert not Reclaim.objects.exists()

    _use(award, "A100", 160, held_hours=10)
    assert usage_checks_run(today=date(2026, 6, 1)) == 1
    check = _check(award, date(2026, 5, 1))
    assert check.action == UsageCheckAction.RECLAIM_PROPOSED
    # Plan so far, 151 of 304 days: A100 993.42 (160 used → 833 unused), H100 248.36 (none used → 248).
    reclaims = {r.gpu_type: (r.gpu_hours, r.state) for r in Reclaim.objects.filter(allocation=award)}
    assert reclaims == {"A100": (833, ReclaimState.PROPOSED), "H100": (248, ReclaimState.PROPOSED)}
    assert Notification.objects.filter(
        recipient=owner, subject__startswith="GPU-hours may be reclaimed"
    ).exists()
    assert AuditEvent.objects.filter(target_id=award.public_id, action="usage_reclaim_proposed").exists()


def test_it_is_idempotent_within_a_month(award):
    _use(award, "A100", 10)
    assert usage_checks_run(today=date(2026, 5, 1)) == 1
    assert usage_checks_run(today=date(2026, 5, 31)) == 0
    assert UsageCheck.objects.filter(allocation=award).count() == 1
    assert Notification.objects.filter(subject__startswith="Behind plan").count() == 1


def test_a_warning_two_months_ago_does_not_count(award):
    _use(award, "A100", 10)
    usage_checks_run(today=date(2026, 4, 1))
    usage_checks_run(today=date(2026, 6, 1))  # May's run was missed: no warning the month before
    assert _check(award, date(2026, 5, 1)).action == UsageCheckAction.WARNED
    assert not Reclaim.objects.exists()


def test_it_proposes_no_second_reclaim_while_one_is_undecided(award):
    _use(award, "A100", 10)
    for month in (4, 5, 6, 7):
        usage_checks_run(today=date(2026, month, 1))
    # March warned, April proposed, May warned (starts over), June: A100 and H100 still undecided.
    assert [c.action for c in UsageCheck.objects.filter(allocation=award).order_by("month")] == [
        "warned",
        "reclaim_proposed",
        "warned",
        "warned",
    ]
    assert Reclaim.objects.filter(allocation=award).count() == 2


def test_it_never_proposes_what_jobs_used_or_hold(award):
    _use(award, "A100", 100, held_hours=1850)
    _use(award, "H100", 0, held_hours=500)
    usage_checks_run(today=date(2026, 5, 1))
    usage_checks_run(today=date(2026, 6, 1))
    assert [(r.gpu_type, r.gpu_hours) for r in Reclaim.objects.all()] == [("A100", 50)]


def test_it_checks_only_active_awards_that_have_started(award, other_allocation):
    type(other_allocation).objects.filter(pk=other_allocation.pk).update(
        starts_on=START, ends_on=END, status=AllocationStatus.SUSPENDED
    )
    assert usage_checks_run(today=date(2026, 1, 20)) == 0  # nothing began before 1 January
    assert usage_checks_run(today=date(2026, 2, 1)) == 1
    assert not UsageCheck.objects.filter(allocation=other_allocation).exists()


def test_a_staged_award_is_planned_over_its_released_stages_only(award):
    stages = staged(award, [5, 5])  # A100: 1,000 released until 31 May, 1,000 pending
    assert released_until(award) == stages[0].ends_on == date(2026, 5, 31)
    _use(award, "A100", 100)
    _use(award, "H100", 200)
    usage_checks_run(today=date(2026, 4, 1))
    # 90 of 151 days: A100 1,000 × 0.596, H100 500 × 0.596 → 894.04 planned, 300 used: below half.
    check = _check(award, date(2026, 3, 1))
    assert (check.planned_gpu_hours, check.action) == (894.04, "warned")
    stages[1].state = StageState.RELEASED
    stages[1].save()
    assert released_until(award) == date(2026, 10, 31)


def test_the_beat_runs_it():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["usage-checks-run"]["task"] == "quotas.tasks.usage_checks_run"


def test_the_task_runs_the_check(award):
    from quotas.tasks import usage_checks_run as task

    assert task.delay().get() >= 0


def test_the_documented_example(award):
    """docs/programme.md and quotas/monitoring.py: 1,000 GPU-hours over 304 days, threshold 0.5."""
    AllocationBudget.objects.filter(allocation=award, gpu_type="H100").delete()
    AllocationBudget.objects.filter(allocation=award, gpu_type="A100").update(awarded_gpu_hours=1000)
    _use(award, "A100", 150)
    usage_checks_run(today=date(2026, 5, 10))
    assert _check(award, date(2026, 4, 1)).planned_gpu_hours == 394.74
    _use(award, "A100", 160)
    usage_checks_run(today=date(2026, 6, 10))
    assert [(r.gpu_type, r.gpu_hours) for r in Reclaim.objects.all()] == [("A100", 336)]
