"""kill -9 of Celery beat just before or just after each of its next publishes, then a restart.

Beat only publishes (cycles, reconciles, sweeps, resends); what it must not do is stop the scheduler for
good: a schedule file left half-written, or a publish lost for ever. After each restart the jobs
submitted meanwhile run to the end on the beat-driven cycles alone.
"""

import pytest

from scheduler.reconcile import reconcile_jobs
from tests.reliability.conftest import sample
from tests.reliability.invariants import assert_invariants, unfinished
from tests.reliability.stack import wait_until
from tests.reliability.test_worker_crash import submit_wave

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.rabbitmq,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def test_it_keeps_scheduling_after_beat_is_killed_around_any_publish(
    stack, local_backend, no_eager_cycles, owner, allocation
):
    worker = stack.start_worker(GG_FAULT_TASKS="")  # the armed fault is beat's alone
    beat = stack.start_beat()
    points = [(kind, n) for n in range(1, 7) for kind in ("kill", "killafter")]
    tried = []
    for wave, (kind, n) in enumerate(sample(points, ci=2)):
        submit_wave(owner, allocation, 2, wave)
        stack.arm(f"{kind}:{n}")
        wait_until(stack.fault_outcome, f"beat to die at {kind}:{n}", process=None)
        assert beat.wait(timeout=30) == -9
        beat = stack.start_beat()  # on the same schedule file the killed one was writing

        def done():
            reconcile_jobs(backend=local_backend)
            return not unfinished()

        wait_until(done, f"the jobs to run on beat's cycles (left: {unfinished()})", timeout=90, process=beat)
        assert worker.poll() is None
        assert_invariants()
        tried.append(f"{kind}:{n}")
    print(f"beat kill -9 points tried: {tried}")
