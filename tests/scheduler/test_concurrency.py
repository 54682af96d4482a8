"""Invariants under real concurrency on PostgreSQL: separate processes, overlapping transactions."""

import multiprocessing
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal.errors import Conflict
from quotas.models import AllocationBudget
from scheduler.inventory import inventory_sync
from scheduler.models import Gpu, Job
from scheduler.sweep import sweep
from tests.scheduler.helpers import assert_no_gpu_double_booked, submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_triggered_cycles(monkeypatch):
    """Only the processes under test run cycles (submissions would otherwise trigger eager ones)."""
    monkeypatch.setattr("scheduler.triggers.request_cycle", lambda *args, **kwargs: False)


def test_concurrent_cycles_in_separate_processes_never_double_book(backend, owner, allocation):
    inventory_sync(backend=backend)
    AllocationBudget.objects.filter(allocation=allocation).update(awarded_gpu_hours=100_000)
    allocation.max_concurrent_gpus = 64
    allocation.save()
    for i in range(40):
        submit(
            owner,
            allocation,
            gpus_per_pod=1 + i % 4,
            gpu_type="A100" if i % 3 else "H100",
            name=f"j{i}",
            minutes=10,
        )
    context = multiprocessing.get_context("spawn")
    workers, barrier, results = 4, context.Barrier(4), context.Queue()
    from tests.scheduler._cycle_process import run_cycles

    processes = [
        context.Process(target=run_cycles, args=(connection.settings_dict["NAME"], 3, barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    claimed = sum(count for _, count in outcomes)
    active = Job.objects.filter(state="scheduled").count()
    assert claimed == active > 0  # every claim a process counted is a job that really holds GPUs
    assert assert_no_gpu_double_booked() <= 16


@pytest.mark.parametrize("admission", ["one statement", "transaction"])
def test_concurrent_submissions_never_overdraw_the_allocation(
    backend, owner, teammate, allocation, admission, monkeypatch
):
    if admission == "transaction":
        from scheduler import services

        monkeypatch.setattr(services, "admit_in_one_statement", services._admit_in_a_transaction)  # noqa: SLF001
    inventory_sync(backend=backend)
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(awarded_gpu_hours=10)
    users = [owner, teammate] * 6  # 12 submissions of 2 GPU-hours each against 10 GPU-hours
    barrier = threading.Barrier(len(users))
    outcomes = []

    def send(user):
        try:
            barrier.wait()
            submit(user, allocation, gpus_per_pod=2, minutes=60)
            outcomes.append("accepted")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    budget = AllocationBudget.objects.get(allocation=allocation, gpu_type="A100")
    assert outcomes.count("accepted") == 5 and outcomes.count("budget_exceeded") == 7
    assert budget.held_gpu_seconds == 5 * 2 * 3600 <= budget.awarded_gpu_seconds
    assert Job.objects.count() == 5


def test_a_cycle_killed_between_claim_and_bind_is_repaired_by_the_sweep(backend, owner, allocation, settings):
    inventory_sync(backend=backend)
    job = submit(owner, allocation, gpus_per_pod=4)
    context = multiprocessing.get_context("spawn")
    from tests.scheduler._cycle_process import die_between_claim_and_bind

    process = context.Process(target=die_between_claim_and_bind, args=(connection.settings_dict["NAME"],))
    process.start()
    process.join(timeout=120)
    assert process.exitcode == -9  # SIGKILL, in the middle of the cycle
    job.refresh_from_db()
    assert job.state == "scheduled" and Gpu.objects.filter(job=job).count() == 4  # claimed, never bound
    later = timezone.now() + timedelta(seconds=settings.GPUGRANT_SCHEDULED_TIMEOUT_S + 1)
    assert sweep(backend=backend, now=later)["stuck_requeued"] == 1
    job.refresh_from_db()
    assert job.state == "queued" and not Gpu.objects.filter(job__isnull=False).exists()
    assert AllocationBudget.objects.get(allocation=allocation, gpu_type="A100").used_gpu_seconds == 0
