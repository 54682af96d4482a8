"""Usage records: accepted once, debited once, enforced, and refused when they cannot be true."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from quotas.models import AllocationBudget, LedgerEntry, UsageRecord
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.metering import usage_ingest
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def running_job(backend, owner, allocation, settings):
    settings.GPUGRANT_METERING = "agent"
    inventory_sync(backend=backend)
    job = submit(owner, allocation, gpus_per_pod=2, minutes=60)
    run_cycle(backend=backend)
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=backend)
    job.refresh_from_db()
    assert job.state == "running"
    return job


def record(
    job,
    *,
    gpu="GPU-0",
    epoch=0,
    sequence=0,
    start=None,
    seconds=10,
    gpus_seconds=None,
    energy=3_000_000,
    util=60.0,
    **extra,
):
    start = start or timezone.now() - timedelta(seconds=60)
    data = {
        "id": f"{job.public_id}:{gpu}:{epoch}:{sequence}",
        "job_id": str(job.public_id),
        "gpu_uuid": gpu,
        "epoch": epoch,
        "sequence": sequence,
        "interval_start": start,
        "interval_end": start + timedelta(seconds=seconds),
        "gpu_seconds": seconds if gpus_seconds is None else gpus_seconds,
        "energy_mj": energy,
        "avg_utilisation_pct": util,
        "avg_memory_bytes": 10**9,
        "estimated": False,
        "simulated": False,
        "quarantined": False,
    }
    data.update(extra)
    return data


def budget(allocation, gpu_type="A100"):
    return AllocationBudget.objects.get(allocation=allocation, gpu_type=gpu_type)


def test_it_applies_each_record_once_however_often_it_is_sent(running_job, allocation):
    batch = [record(running_job, gpu=f"GPU-{g}", sequence=s) for g in range(2) for s in range(3)]
    held_before = budget(allocation).held_gpu_seconds
    first = usage_ingest(node="node-a", records=batch)
    assert (first.accepted, first.duplicates, first.rejected) == (6, 0, [])
    again = usage_ingest(node="node-a", records=batch + batch[:2])
    assert (again.accepted, again.duplicates) == (0, 8)
    running_job.refresh_from_db()
    assert running_job.used_gpu_seconds == 60 and running_job.energy_mj == 6 * 3_000_000
    assert (
        budget(allocation).used_gpu_seconds == 60 and budget(allocation).held_gpu_seconds == held_before - 60
    )
    assert UsageRecord.objects.count() == LedgerEntry.objects.count() == 6


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": "forged"}, "id must be"),
        ({"seconds": 0}, "end after it starts"),
        ({"gpus_seconds": 100}, "longer than the interval"),
    ],
)
def test_it_rejects_records_that_cannot_be_true(running_job, change, reason):
    result = usage_ingest(node="node-a", records=[record(running_job, **change)])
    assert result.accepted == 0 and reason in result.rejected[0]["reason"]
    assert not UsageRecord.objects.exists()


def test_a_node_cannot_report_for_another_nodes_job(running_job):
    result = usage_ingest(node="node-h", records=[record(running_job)])
    assert result.rejected == [
        {"id": record(running_job)["id"], "reason": "the job was not placed on this node"}
    ]
    assert not UsageRecord.objects.exists()


def test_records_of_an_earlier_run_count_after_the_job_moved_to_another_node(running_job, allocation):
    # Preempted and placed again elsewhere before node-a's agent delivered the old run's last record.
    Job.objects.filter(pk=running_job.pk).update(placement=[{"node": "node-b", "gpus": [0, 1]}])
    late = record(running_job)
    assert usage_ingest(node="node-a", records=[late]).accepted == 1
    assert budget(allocation).used_gpu_seconds == 10
    # a node that never ran it is still refused
    stranger = usage_ingest(node="node-h", records=[record(running_job, sequence=1)])
    assert stranger.rejected == [
        {"id": record(running_job, sequence=1)["id"], "reason": "the job was not placed on this node"}
    ]


def test_it_stops_running_jobs_when_the_award_is_used_up_and_warns_at_80_and_100(
    running_job, allocation, backend, django_capture_on_commit_callbacks
):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(awarded_gpu_hours=10)
    awarded = budget(allocation).awarded_gpu_seconds  # 36,000 GPU-seconds
    long_ago = timezone.now() - timedelta(days=1)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # 85 % used: the 80 % notice, nothing stops
        usage_ingest(
            node="node-a", records=[record(running_job, start=long_ago, seconds=int(awarded * 0.85))]
        )
    assert len([m for m in mail.outbox if "80 % used" in m.subject]) == 1 and backend.stopped == []
    running_job.refresh_from_db()
    assert running_job.state == "running"
    with django_capture_on_commit_callbacks(execute=True):  # 105 %: stopped, the 100 % notice
        usage_ingest(
            node="node-a",
            records=[record(running_job, sequence=1, start=long_ago, seconds=int(awarded * 0.2))],
        )
    assert (str(running_job.public_id), "exhausted") in backend.stopped
    running_job.refresh_from_db()
    assert running_job.state == "exhausted"
    assert any("used up" in e.reason for e in running_job.events.all())
    assert len([m for m in mail.outbox if "used up" in m.subject]) == 1
    with django_capture_on_commit_callbacks(execute=True):  # late usage: counted, but no more notices
        usage_ingest(node="node-a", records=[record(running_job, sequence=2)])
    assert len([m for m in mail.outbox if "used up" in m.subject]) == 1
    assert budget(allocation).used_gpu_seconds == int(awarded * 0.85) + int(awarded * 0.2) + 10


def test_idle_gpus_are_flagged_warned_then_stopped(
    running_job, allocation, backend, settings, django_capture_on_commit_callbacks
):
    settings.GPUGRANT_IDLE_WARN_AFTER_S = 60
    settings.GPUGRANT_IDLE_STOP_AFTER_S = 120
    start = timezone.now() - timedelta(minutes=10)
    usage_ingest(node="node-a", records=[record(running_job, start=start, seconds=30, util=1.0, sequence=0)])
    running_job.refresh_from_db()
    assert running_job.idle_since == start and running_job.idle_warned_at is None
    with django_capture_on_commit_callbacks(execute=True):
        usage_ingest(
            node="node-a",
            records=[
                record(running_job, start=start + timedelta(seconds=60), seconds=30, util=0.0, sequence=1)
            ],
        )
    running_job.refresh_from_db()
    assert running_job.idle_warned_at is not None
    assert any("idle for 1 minutes" in e.reason for e in running_job.events.all())
    assert any("idle" in m.subject.lower() for m in mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        usage_ingest(
            node="node-a",
            records=[
                record(running_job, start=start + timedelta(seconds=120), seconds=30, util=0.0, sequence=2)
            ],
        )
    running_job.refresh_from_db()
    assert running_job.state == "cancelled" and "idle" in running_job.state_reason


def test_busy_gpus_clear_the_idle_flag_and_warn_only_policy_never_stops(
    running_job, allocation, backend, settings
):
    settings.GPUGRANT_IDLE_WARN_AFTER_S = 0
    settings.GPUGRANT_IDLE_STOP_AFTER_S = 0
    allocation.idle_policy = "warn"
    allocation.save()
    start = timezone.now() - timedelta(minutes=10)
    for sequence in range(3):
        usage_ingest(
            node="node-a",
            records=[
                record(
                    running_job,
                    start=start + timedelta(seconds=30 * sequence),
                    seconds=30,
                    util=0.0,
                    sequence=sequence,
                )
            ],
        )
    running_job.refresh_from_db()
    assert running_job.state == "running" and running_job.idle_since is not None and backend.stopped == []
    usage_ingest(
        node="node-a",
        records=[record(running_job, start=start + timedelta(seconds=90), seconds=30, util=80.0, sequence=3)],
    )
    running_job.refresh_from_db()
    assert running_job.idle_since is None and running_job.idle_warned_at is None


def test_late_records_after_a_job_ended_still_count(running_job, allocation, backend):
    backend.set_phase(str(running_job.public_id), Phase.SUCCEEDED, exit_code=0)
    reconcile_jobs(backend=backend)
    running_job.refresh_from_db()
    assert running_job.state == "succeeded" and running_job.hold_gpu_seconds == 0
    assert budget(allocation).held_gpu_seconds == 0  # agent mode: the edges are not charged at the end
    usage_ingest(node="node-a", records=[record(running_job)])
    assert budget(allocation).used_gpu_seconds == 10 and budget(allocation).held_gpu_seconds == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_posts_apply_each_record_once(running_job, allocation):
    batch = [record(running_job, gpu=f"GPU-{g}", sequence=s) for g in range(2) for s in range(20)]
    barrier = threading.Barrier(6)
    results = []

    def post():
        try:
            barrier.wait()
            results.append(usage_ingest(node="node-a", records=list(batch)))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.accepted for r in results) == 40 and sum(r.duplicates for r in results) == 5 * 40
    assert UsageRecord.objects.count() == LedgerEntry.objects.count() == 40
    assert budget(allocation).used_gpu_seconds == 400
    assert Job.objects.get(pk=running_job.pk).used_gpu_seconds == 400
