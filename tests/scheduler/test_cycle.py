"""The scheduling cycle against the database: claims, binds, failures, preemption, reconciliation."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from quotas.models import AllocationBudget
from scheduler.backends.base import LeftoverFromEarlierRun, NodeInfo, Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Gpu, GpuNode, Job
from scheduler.reconcile import reconcile_jobs
from scheduler.sweep import sweep
from tests.scheduler.helpers import assert_no_gpu_double_booked, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


def events(job):
    return [(e.from_state, e.to_state) for e in job.events.order_by("created_at", "id")]


def budget(allocation, gpu_type="A100"):
    return AllocationBudget.objects.get(allocation=allocation, gpu_type=gpu_type)


def test_it_places_binds_and_charges_a_job_from_bind_to_release(nodes, owner, allocation):
    job = submit(owner, allocation, gpus_per_pod=4, minutes=60)
    start = timezone.now()
    result = run_cycle(backend=nodes, now=start)
    assert (result.claimed, result.bound) == (1, 1)
    job.refresh_from_db()
    assert job.state == "scheduled" and job.placement == [{"node": "node-a", "gpus": [0, 1, 2, 3]}]
    assert nodes.bound[str(job.public_id)].pods[0].gpu_indices == (0, 1, 2, 3)
    nodes.set_phase(str(job.public_id), Phase.SUCCEEDED, exit_code=0)
    Job.objects.filter(pk=job.pk).update(run_started_at=start - timedelta(seconds=90))  # it ran 90 s
    reconcile_jobs(backend=nodes)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.used_gpu_seconds == 4 * 90 and job.hold_gpu_seconds == 0
    assert (budget(allocation).used_gpu_seconds, budget(allocation).held_gpu_seconds) == (360, 0)
    assert events(job) == [("", "queued"), ("queued", "scheduled"), ("scheduled", "succeeded")]
    assert not Gpu.objects.filter(job__isnull=False).exists()


def test_it_requeues_on_bind_failure_and_fails_after_too_many(nodes, owner, allocation, settings):
    settings.GPUGRANT_MAX_REQUEUES = 1
    job = submit(owner, allocation, gpus_per_pod=2)
    nodes.fail_binds.add(str(job.public_id))
    assert run_cycle(backend=nodes).bind_failures == 1
    job.refresh_from_db()
    assert job.state == "queued" and "could not be started" in job.state_reason and job.requeues == 1
    assert job.used_gpu_seconds == 0 and not Gpu.objects.filter(job__isnull=False).exists()
    run_cycle(backend=nodes)
    job.refresh_from_db()
    assert job.state == "failed" and budget(allocation).held_gpu_seconds == 0


@pytest.mark.parametrize(
    ("phase", "exit_code", "state"),
    [
        (Phase.SUCCEEDED, 0, "succeeded"),
        (Phase.FAILED, 3, "failed"),
        (Phase.TIMED_OUT, None, "timed_out"),
    ],
)
def test_it_reconciles_each_phase_into_a_state_with_a_reason(
    nodes, owner, allocation, phase, exit_code, state
):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    job.refresh_from_db()
    assert job.state == "running" and job.started_at is not None
    nodes.set_phase(
        str(job.public_id), phase, exit_code=exit_code, reason="OOMKilled" if phase == Phase.FAILED else ""
    )
    reconcile_jobs(backend=nodes)
    job.refresh_from_db()
    assert job.state == state and job.state_reason and job.exit_code == exit_code
    assert budget(allocation).held_gpu_seconds == 0
    if phase == Phase.FAILED:
        assert "exit code 3" in job.state_reason and "OOMKilled" in job.state_reason


def test_a_lost_job_is_requeued_then_failed_by_policy(nodes, owner, allocation, settings):
    settings.GPUGRANT_MAX_REQUEUES = 1
    job = submit(owner, allocation)
    for expected in ("queued", "failed"):
        run_cycle(backend=nodes)
        nodes.set_phase(str(job.public_id), Phase.LOST, reason="node vanished")
        reconcile_jobs(backend=nodes)
        nodes.phases.pop(str(job.public_id))
        job.refresh_from_db()
        assert job.state == expected
    assert ("running", "lost") in events(job) or ("scheduled", "lost") in events(job)
    assert events(job)[-1] == ("lost", "failed")


def test_a_vanished_node_marks_its_jobs_lost(nodes, owner, allocation):
    job = submit(owner, allocation, gpus_per_pod=2)
    run_cycle(backend=nodes)
    nodes.nodes = [n for n in nodes.nodes if n.name != "node-a"]
    assert inventory_sync(backend=nodes) == ["node-a"]
    counts = sweep(backend=nodes)
    job.refresh_from_db()
    assert counts["lost_on_vanished_nodes"] == 1 and job.state == "queued" and job.requeues == 1
    assert not GpuNode.objects.get(name="node-a").schedulable
    assert run_cycle(backend=nodes).claimed == 0  # nowhere left for A100 jobs


def test_preemption_stops_a_low_job_and_requeues_it(
    nodes, owner, allocation, other_allocation, outsider, settings
):
    settings.GPUGRANT_PREEMPTION_WAIT_S = 0
    settings.GPUGRANT_PREEMPTION_GRACE_S = 0
    low = submit(outsider, other_allocation, gpus_per_pod=8, priority="low")
    run_cycle(backend=nodes)
    nodes.set_phase(str(low.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    waiting = submit(owner, allocation, gpus_per_pod=4)
    result = run_cycle(backend=nodes)
    assert result.preempted == 1 and (str(low.public_id), "preempted") in nodes.stopped
    waiting.refresh_from_db()
    assert waiting.held_nodes == ["node-a"] and waiting.held_since is not None  # kept for the next cycle
    reconcile_jobs(backend=nodes)
    low.refresh_from_db()
    assert low.state == "queued" and low.requeues == 1
    assert [e[1] for e in events(low)][-2:] == ["preempted", "queued"]
    run_cycle(backend=nodes)
    waiting.refresh_from_db()
    assert waiting.state == "scheduled" and waiting.held_nodes == [] and waiting.held_since is None
    assert_no_gpu_double_booked()


def test_a_job_that_started_within_the_grace_period_is_not_preempted(
    nodes, owner, allocation, other_allocation, outsider, settings
):
    settings.GPUGRANT_PREEMPTION_WAIT_S = 0
    settings.GPUGRANT_PREEMPTION_GRACE_S = 600
    low = submit(outsider, other_allocation, gpus_per_pod=8, priority="low")
    started = timezone.now()
    run_cycle(backend=nodes, now=started)
    submit(owner, allocation, gpus_per_pod=4)
    assert run_cycle(backend=nodes, now=started + timedelta(seconds=599)).preempted == 0
    assert run_cycle(backend=nodes, now=started + timedelta(seconds=601)).preempted == 1
    assert (str(low.public_id), "preempted") in nodes.stopped


def test_a_job_requeued_max_preemptions_times_is_not_preempted_again(
    nodes, owner, allocation, other_allocation, outsider, settings
):
    settings.GPUGRANT_PREEMPTION_WAIT_S = 0
    settings.GPUGRANT_PREEMPTION_GRACE_S = 0
    settings.GPUGRANT_MAX_PREEMPTIONS = 2
    low = submit(outsider, other_allocation, gpus_per_pod=8, priority="low")
    run_cycle(backend=nodes)
    Job.objects.filter(pk=low.pk).update(requeues=2)  # restarted twice already
    submit(owner, allocation, gpus_per_pod=4)
    assert run_cycle(backend=nodes).preempted == 0
    settings.GPUGRANT_MAX_PREEMPTIONS = 3
    assert run_cycle(backend=nodes).preempted == 1


def test_the_sweep_repairs_a_job_whose_bind_never_happened(nodes, owner, allocation, settings):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.phases.clear()  # the backend never heard of it: the worker died after claiming
    nodes.bound.clear()
    later = timezone.now() + timedelta(seconds=settings.GPUGRANT_SCHEDULED_TIMEOUT_S + 1)
    assert sweep(backend=nodes, now=later)["stuck_requeued"] == 1
    job.refresh_from_db()
    assert job.state == "queued" and "bind never completed" in job.state_reason
    assert not Gpu.objects.filter(job__isnull=False).exists() and job.used_gpu_seconds == 0


def test_foreign_workloads_and_cordoned_nodes_are_not_used(backend, owner, allocation):
    backend.nodes = [
        NodeInfo("node-a", "A100", 8, foreign_gpus=(4, 5, 6, 7)),
        NodeInfo("node-b", "A100", 8, schedulable=False),
    ]
    inventory_sync(backend=backend)
    first = submit(owner, allocation, gpus_per_pod=4)
    second = submit(owner, allocation, gpus_per_pod=4, name="second")
    run_cycle(backend=backend)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.placement == [{"node": "node-a", "gpus": [0, 1, 2, 3]}] and second.state == "queued"


def test_the_concurrency_cap_and_gpu_types_hold(nodes, owner, allocation):
    jobs = [
        submit(owner, allocation, gpus_per_pod=8, name=f"j{i}") for i in range(3)
    ]  # cap 16, one A100 node
    h100 = submit(owner, allocation, gpus_per_pod=8, gpu_type="H100", name="h")
    run_cycle(backend=nodes)
    states = sorted(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True))
    assert states == ["queued", "queued", "scheduled"]
    h100.refresh_from_db()
    assert h100.state == "scheduled" and h100.placement[0]["node"] == "node-h"
    assert assert_no_gpu_double_booked() == 16


def test_a_stop_nobody_requested_means_lost_and_requeued(nodes, owner, allocation):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.STOPPED, reason="evicted by a node drain")
    reconcile_jobs(backend=nodes)
    job.refresh_from_db()
    assert job.state == "queued" and job.requeues == 1
    assert ("running", "lost") in events(job) and "stopped outside gpugrant" in job.events.get(
        to_state="lost"
    ).reason


def test_a_requested_stop_finishes_when_the_backend_forgets_the_job(nodes, owner, allocation):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    Job.objects.filter(pk=job.pk).update(stop_requested="cancelled")
    nodes.phases.pop(str(job.public_id))  # its pods are already gone
    assert reconcile_jobs(backend=nodes) == 1
    job.refresh_from_db()
    assert job.state == "cancelled" and not Gpu.objects.filter(job=job).exists()


def test_a_running_job_whose_pods_vanish_is_lost(nodes, owner, allocation):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    nodes.phases.pop(str(job.public_id))
    reconcile_jobs(backend=nodes)
    job.refresh_from_db()
    assert job.state == "queued" and ("running", "lost") in events(job)


def test_a_backend_that_allows_it_gets_its_binds_at_once_and_failures_are_still_undone(
    nodes, owner, allocation, monkeypatch
):
    jobs = [submit(owner, allocation, name=f"job-{i}") for i in range(3)]
    nodes.fail_binds.add(str(jobs[1].public_id))
    nodes.bind_concurrency = 3
    all_in_flight = threading.Barrier(3, timeout=10)  # passes only if the three binds overlap
    original_bind = nodes.bind

    def bind_when_all_are_in_flight(spec):
        all_in_flight.wait()
        original_bind(spec)

    monkeypatch.setattr(nodes, "bind", bind_when_all_are_in_flight)
    result = run_cycle(backend=nodes)

    assert (result.claimed, result.bound, result.bind_failures) == (3, 2, 1)
    states = {job.name: Job.objects.get(pk=job.pk).state for job in jobs}
    assert states == {"job-0": "scheduled", "job-1": "queued", "job-2": "scheduled"}
    assert not Gpu.objects.filter(job=jobs[1]).exists()  # the failed claim was released
    assert_no_gpu_double_booked()


def test_a_scheduled_job_unknown_to_the_backend_is_left_to_the_sweep(nodes, owner, allocation):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.phases.pop(str(job.public_id))  # its bind may still be in flight elsewhere
    assert reconcile_jobs(backend=nodes) == 0
    job.refresh_from_db()
    assert job.state == "scheduled"


def test_a_bind_that_lands_after_a_cancel_is_undone(backend, owner, allocation):
    inventory_sync(backend=backend)
    job = submit(owner, allocation)
    original_bind = backend.bind

    def bind_then_cancelled(spec):
        original_bind(spec)
        Job.objects.filter(public_id=spec.job_id).update(
            stop_requested="cancelled"
        )  # a cancel raced the bind

    backend.bind = bind_then_cancelled
    run_cycle(backend=backend)
    assert (str(job.public_id), "cancelled") in backend.stopped


@pytest.mark.parametrize(("policy", "stopped"), [("finish", False), ("stop", True)])
def test_running_jobs_of_a_suspended_allocation_follow_the_policy(
    nodes, owner, allocation, settings, policy, stopped, django_capture_on_commit_callbacks
):
    settings.GPUGRANT_INACTIVE_ALLOCATION_POLICY = policy
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    allocation.status = "suspended"
    allocation.save()
    with django_capture_on_commit_callbacks(execute=True):
        sweep(backend=nodes)
    job.refresh_from_db()
    assert ((str(job.public_id), "inactive") in nodes.stopped) is stopped
    assert job.state == ("cancelled" if stopped else "running")
    if stopped:
        assert "no longer active" in job.state_reason


def test_a_job_a_concurrent_reconcile_started_is_not_stopped_after_its_bind(backend, owner, allocation):
    inventory_sync(backend=backend)
    job = submit(owner, allocation)
    original_bind = backend.bind

    def bind_then_running(spec):
        original_bind(spec)
        Job.objects.filter(public_id=spec.job_id).update(state="running")  # another worker reconciled it

    backend.bind = bind_then_running
    run_cycle(backend=backend)
    assert backend.stopped == []
    job.refresh_from_db()
    assert job.state == "running"


def test_a_bind_failing_on_an_earlier_runs_leftovers_requeues_without_using_up_a_requeue(
    nodes, owner, allocation, monkeypatch
):
    job = submit(owner, allocation, gpus_per_pod=2)

    def leftover(spec):
        raise LeftoverFromEarlierRun("pod of an earlier run in the way; removed, retry later")

    monkeypatch.setattr(nodes, "bind", leftover)
    assert run_cycle(backend=nodes).bind_failures == 1
    job.refresh_from_db()
    assert job.state == "queued" and job.requeues == 0 and "retry later" in job.state_reason
    assert not Gpu.objects.filter(job__isnull=False).exists()
