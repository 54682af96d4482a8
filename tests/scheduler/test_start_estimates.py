"""Predicted runtimes and estimated starts of real jobs: from the job's own history, through the cycle,
into the queue view, the recorded estimates, the API and the job page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job, JobStartEstimate
from scheduler.reconcile import reconcile_jobs
from scheduler.selectors import job_queue_facts
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db
T0 = timezone.now().replace(microsecond=0)


def finished(owner, allocation, name, hours, *, ended_ago_h=1):
    """A job of ``name`` that ran ``hours`` and succeeded."""
    job = submit(owner, allocation, gpus_per_pod=8, minutes=24 * 60, name=name)
    end = T0 - timedelta(hours=ended_ago_h)
    Job.objects.filter(pk=job.pk).update(
        state="succeeded", started_at=end - timedelta(hours=hours), finished_at=end, hold_gpu_seconds=0
    )
    return job


@pytest.fixture
def busy(backend, owner, allocation):
    """node-a's 8 A100s run one job (history: jobs of its name take 2-4 h); a second 8-GPU job waits."""
    inventory_sync(backend=backend)
    for hours in (2, 3, 4):
        finished(owner, allocation, "train-7", hours)
    runner = submit(owner, allocation, gpus_per_pod=8, minutes=24 * 60, name="train-8")
    run_cycle(backend=backend, now=T0)
    backend.set_phase(str(runner.public_id), Phase.RUNNING)
    reconcile_jobs(backend=backend)
    waiting = submit(owner, allocation, gpus_per_pod=8, minutes=12 * 60, name="eval")
    return runner, waiting


def test_a_waiting_job_is_given_a_start_from_the_running_jobs_history_with_a_range(backend, busy):
    runner, waiting = busy
    run_cycle(backend=backend, now=T0 + timedelta(minutes=1))
    facts = job_queue_facts(Job.objects.get(pk=waiting.pk))
    # train-8 matches train-7 by name (numbers aside): 2, 3, 4 h → median 3 h, 10th–90th 2.2–3.8 h
    assert facts["estimated_start"] == T0 + timedelta(hours=3)
    assert (facts["estimated_start_earliest"], facts["estimated_start_latest"]) == (
        T0 + timedelta(hours=2.2),
        T0 + timedelta(hours=3.8),
    )
    # "eval" never ran, but its command and image did (as train-7): its own prediction rests on those runs
    assert facts["predicted_runtime"] == {
        "runtime_s": 3 * 3600.0,
        "low_s": pytest.approx(2.2 * 3600.0),
        "high_s": pytest.approx(3.8 * 3600.0),
        "basis": "same_command",
        "runs": 3,
    }


def test_the_api_and_the_page_show_the_estimate_its_range_and_the_prediction(backend, busy, client, owner):
    runner, waiting = busy
    run_cycle(backend=backend, now=T0 + timedelta(minutes=1))
    client.force_login(owner)
    body = client.get(f"/api/v1/jobs/{waiting.public_id}").json()
    assert body["predicted_runtime"] == {
        "minutes": 180.0,
        "low_minutes": 132.0,
        "high_minutes": 228.0,
        "basis": "same_command",
        "runs": 3,
    }
    assert body["estimated_start_earliest"] < body["estimated_start"] < body["estimated_start_latest"]
    assert body["first_estimated_start"] == body["estimated_start"]
    page = client.get(f"/jobs/{waiting.public_id}/").content.decode()
    assert "about 180 minutes (132–228), from 3 earlier runs like it" in page
    assert "How the estimated start moved" in page


def test_the_first_estimate_is_recorded_and_again_only_when_it_moves(backend, busy):
    runner, waiting = busy
    run_cycle(backend=backend, now=T0 + timedelta(minutes=1))
    run_cycle(backend=backend, now=T0 + timedelta(minutes=2))  # same picture: nothing new recorded
    waiting.refresh_from_db()
    assert waiting.first_estimated_start == waiting.estimated_start == T0 + timedelta(hours=3)
    assert JobStartEstimate.objects.filter(job=waiting).count() == 1
    # train-8 ends early: the GPUs are free, eval starts now
    backend.set_phase(str(runner.public_id), Phase.SUCCEEDED, exit_code=0)
    reconcile_jobs(backend=backend)
    run_cycle(backend=backend, now=T0 + timedelta(minutes=3))
    waiting.refresh_from_db()
    assert waiting.state == "scheduled" and waiting.first_estimated_start == T0 + timedelta(hours=3)


def test_the_first_estimate_keeps_when_it_was_given_and_the_plans_own_start(backend, busy):
    runner, waiting = busy
    run_cycle(backend=backend, now=T0 + timedelta(minutes=1))
    waiting.refresh_from_db()
    assert waiting.first_estimate_at == T0 + timedelta(minutes=1)
    # no started jobs to learn from yet: what was shown is what the plan said
    assert waiting.first_planned_start == waiting.first_estimated_start == T0 + timedelta(hours=3)


def started_after(owner, allocation, announced_h, waited_h, *, started_ago_h=1):
    """A job whose first estimate, given ``waited_h`` before its start, announced a wait of ``announced_h``."""
    job = submit(owner, allocation, gpus_per_pod=1, minutes=60, name="sweep")
    start = T0 - timedelta(hours=started_ago_h)
    given = start - timedelta(hours=waited_h)
    Job.objects.filter(pk=job.pk).update(
        state="running",
        started_at=start,
        first_estimate_at=given,
        first_planned_start=given + timedelta(hours=announced_h),
        first_estimated_start=given + timedelta(hours=announced_h),
    )
    return job


def test_recent_starts_that_came_later_than_announced_widen_the_range_and_keep_the_estimate(
    backend, busy, owner, allocation
):
    runner, waiting = busy
    # 30 recent A100 jobs were each announced a start 3 h away and really started after 6 h (ratio 2):
    # eval's range now reaches twice its announced wait; the estimate stays the plan's.
    for _ in range(30):
        started_after(owner, allocation, announced_h=3, waited_h=6)
    run_cycle(backend=backend, now=T0 + timedelta(minutes=1))
    facts = job_queue_facts(Job.objects.get(pk=waiting.pk))
    now = T0 + timedelta(minutes=1)
    assert facts["estimated_start"] == T0 + timedelta(hours=3)
    assert facts["estimated_start_earliest"] == T0 + timedelta(hours=2.2)  # the plan's own low stays
    assert facts["estimated_start_latest"] == now + (T0 + timedelta(hours=3) - now) * 2
    waiting.refresh_from_db()
    assert waiting.first_planned_start == waiting.first_estimated_start == T0 + timedelta(hours=3)


def test_jobs_that_were_requeued_or_started_long_ago_teach_nothing(backend, busy, owner, allocation):
    runner, waiting = busy
    for _ in range(15):
        started_after(owner, allocation, announced_h=3, waited_h=6, started_ago_h=24 * 15)
    for job in [started_after(owner, allocation, announced_h=3, waited_h=6) for _ in range(15)]:
        Job.objects.filter(pk=job.pk).update(requeues=1)
    run_cycle(backend=backend, now=T0 + timedelta(minutes=1))
    waiting.refresh_from_db()
    assert waiting.first_estimated_start == waiting.first_planned_start == T0 + timedelta(hours=3)
