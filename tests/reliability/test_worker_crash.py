"""kill -9 of a Celery worker at every SQL statement of a scheduling cycle, then restart and recover.

The worker runs the cycle task from the real broker with acks_late, so the broker redelivers the cycle to
the restarted worker; the sweep repairs claims whose bind never ran. After each recovery every job has
run to the end, no GPU was double-booked, and holds and usage add up.
"""

import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from scheduler.states import JobState
from scheduler.sweep import sweep
from tests.reliability.conftest import sample
from tests.reliability.invariants import assert_invariants, unfinished
from tests.reliability.stack import wait_until
from tests.scheduler.helpers import submit

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.rabbitmq,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]
CYCLE = "scheduler.tasks.scheduling_cycle"


def submit_wave(owner, allocation, size: int, wave: int) -> list[Job]:
    jobs = [
        submit(owner, allocation, gpus_per_pod=1 + i % 2, name=f"w{wave}-{i}", minutes=5) for i in range(size)
    ]
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(command=[sys.executable, "-c", "pass"])
    return jobs


def run_to_the_end(stack, backend, worker) -> None:
    """Reconcile here and ask the worker for cycles (only when its queue is empty) until every job ended."""

    def finished():
        reconcile_jobs(backend=backend)
        if not unfinished():
            return True
        if Job.objects.filter(state=JobState.QUEUED).exists() and stack.queue_depth() == 0:
            stack.send(CYCLE)
        return False

    wait_until(finished, f"every job to end (left: {unfinished()})", timeout=90, process=worker)


def cycles_done(stack, worker) -> int:
    log = stack.log(worker)
    return len(
        [
            line
            for line in log.splitlines()
            if CYCLE in line and (" succeeded in " in line or " raised " in line)
        ]
    )


def fault_loop(stack, backend, owner, allocation, kind: str) -> list[tuple]:
    """Arm ``kind`` at each sampled statement of a cycle with work; recover; check the invariants each time."""
    worker = stack.start_worker()
    submit_wave(owner, allocation, 3, wave=0)
    stack.arm("kill:1000000")  # a probe: how many statements does a cycle with work run?
    stack.send(CYCLE)
    statements = int(wait_until(stack.fault_outcome, "the probe cycle", process=worker).split()[1])
    run_to_the_end(stack, backend, worker)
    tried = []
    for wave, point in enumerate(sample(list(range(1, statements + 1)), ci=3), start=1):
        began = time.monotonic()
        submit_wave(owner, allocation, 3, wave)
        done_before = cycles_done(stack, worker)
        stack.arm(f"{kind}:{point}")
        stack.send(CYCLE)
        outcome = wait_until(stack.fault_outcome, f"the cycle armed with {kind} at statement {point}")
        if outcome.startswith("fired") and kind == "kill":
            assert worker.wait(timeout=30) == -9
        else:  # the worker lives on: let its failed cycle end before the sweep looks at what it left
            wait_until(
                lambda w=worker, n=done_before: cycles_done(stack, w) > n,
                "the armed cycle to end",
                process=worker,
            )
        # What an operator's restart, or the next sweep, finds: repair what the dead cycle left. A fresh
        # worker then gets the unacknowledged cycle again from the broker.
        later = timezone.now() + timedelta(seconds=settings.GPUGRANT_SCHEDULED_TIMEOUT_S + 1)
        sweep(backend=backend, now=later)
        if worker.poll() is not None:
            worker = stack.start_worker()
        run_to_the_end(stack, backend, worker)
        assert_invariants()
        tried.append((point, outcome.split()[0], round(time.monotonic() - began, 1)))
    assert Job.objects.exclude(state=JobState.SUCCEEDED).count() == 0
    return tried


def test_it_recovers_from_a_worker_killed_at_each_statement_of_a_cycle(
    stack, local_backend, no_eager_cycles, owner, allocation
):
    tried = fault_loop(stack, local_backend, owner, allocation, "kill")
    assert any(outcome == "fired" for _, outcome, _ in tried), tried
    print(f"worker kill -9 points tried (statement, outcome, seconds to recover): {tried}")


def test_it_recovers_from_the_database_session_dropped_at_each_statement_of_a_cycle(
    stack, local_backend, no_eager_cycles, owner, allocation
):
    tried = fault_loop(stack, local_backend, owner, allocation, "drop")
    assert any(outcome == "fired" for _, outcome, _ in tried), tried
    print(f"worker database drops tried (statement, outcome, seconds to recover): {tried}")
