"""Every job move and event stores its reason as code, parameters and English text, whichever path wrote it."""

import pytest
from django.db import transaction

from scheduler import reasons
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from scheduler.states import JobState
from scheduler.transitions import job_move, lock_job
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


def stored(job):
    """(code, params, English) of the job's state reason and of each of its events."""
    job.refresh_from_db()
    return (job.state_reason_code, job.state_reason_params, job.state_reason), [
        (event.reason_code, event.reason_params, event.reason)
        for event in job.events.order_by("created_at", "id")
    ]


def test_job_move_stores_the_code_its_parameters_and_the_english_text(nodes, owner, allocation):
    job = submit(owner, allocation)
    with transaction.atomic():
        job_move(
            lock_job(job.pk), JobState.CANCELLED, reasons.cancelled_before_start(owner.email), actor=owner
        )
    english = f"cancelled by {owner.email} before it started"
    state, events = stored(job)
    assert state == ("cancelled_before_start", {"email": owner.email}, english)
    assert events == [
        ("accepted", {}, "accepted; waiting for GPUs"),  # written with the job (admission)
        ("cancelled_before_start", {"email": owner.email}, english),
    ]


def test_a_run_from_placement_to_failure_stores_a_code_at_each_step(nodes, owner, allocation):
    job = submit(owner, allocation, gpus_per_pod=2)
    run_cycle(backend=nodes)  # the claim writes its reason in a batched UPDATE
    assert stored(job)[0] == ("placed", {"where": "node-a GPUs 0,1"}, "placed on node-a GPUs 0,1")
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.FAILED, exit_code=137, reason="OOMKilled")
    reconcile_jobs(backend=nodes)
    state, events = stored(job)
    assert state == (
        "failed_with_detail",
        {"exit_code": 137, "detail": "OOMKilled"},
        "failed (exit code 137): OOMKilled",
    )
    assert [code for code, _, _ in events] == ["accepted", "placed", "running", "failed_with_detail"]


def test_a_preempted_job_says_why_while_it_stops_and_when_it_is_requeued(
    nodes, owner, allocation, other_allocation, outsider, settings
):
    settings.GPUGRANT_PREEMPTION_WAIT_S = 0
    settings.GPUGRANT_PREEMPTION_GRACE_S = 0
    low = submit(outsider, other_allocation, gpus_per_pod=8, priority="low")
    run_cycle(backend=nodes)
    nodes.set_phase(str(low.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    submit(owner, allocation, gpus_per_pod=4)
    assert run_cycle(backend=nodes).preempted == 1
    state, events = stored(low)
    assert state == (
        "preempting_low_priority",
        {},
        "preempted (low priority) for a job waiting longer",
    )
    assert events[-1][0] == "preempting_low_priority_stopping"
    reconcile_jobs(backend=nodes)
    state, events = stored(low)
    assert state[0] == "requeued_after_preemption"
    assert [code for code, _, _ in events][-2:] == ["preempted", "requeued_after_preemption"]


def test_set_state_reason_writes_or_clears_all_three_columns(nodes, owner, allocation):
    job = submit(owner, allocation)
    job.set_state_reason(None)
    assert (job.state_reason, job.state_reason_code, job.state_reason_params) == ("", "", {})
    job.set_state_reason(reasons.lost_too_often(3))
    job.save()
    assert Job.objects.filter(
        pk=job.pk, state_reason_code="lost_too_often", state_reason_params={"times": 3}
    ).exists()
