"""The preemption wait budget in the product: allocations' recent waits and runs read from the jobs table
reach the plan, which preempts for a within-share job only once its allocation has spent its budget
(docs/scheduling.md, "Preempt")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.cycle import run_cycle
from scheduler.history import recent_waits
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.snapshot import build_snapshot
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db

HOUR = 3600.0


def _dated(job, *, submitted_h, started_h=None, finished_h=None, state=None, now):
    """Set ``job``'s times, in hours before ``now``."""

    def ago(hours):
        return None if hours is None else now - timedelta(hours=hours)

    fields = {
        "submitted_at": ago(submitted_h),
        "started_at": ago(started_h),
        "finished_at": ago(finished_h),
    }
    if state is not None:
        fields["state"] = state
    Job.objects.filter(pk=job.pk).update(**fields)


def test_recent_waits_sum_first_waits_and_time_since_first_start_over_the_window(
    backend, owner, outsider, allocation, other_allocation
):
    inventory_sync(backend=backend)
    now = timezone.now()
    ended = submit(owner, allocation, name="ended")
    _dated(ended, submitted_h=10, started_h=9, finished_h=1, state="succeeded", now=now)  # 1 h, 8 h
    running = submit(owner, allocation, name="running")
    _dated(running, submitted_h=5, started_h=3, state="running", now=now)  # 2 h, 3 h so far
    old = submit(owner, allocation, name="old")  # ended before the window
    _dated(old, submitted_h=300, started_h=200, finished_h=190, state="succeeded", now=now)
    submit(owner, allocation, name="never started")  # waits now: not yet counted
    theirs = submit(outsider, other_allocation, name="theirs")
    _dated(theirs, submitted_h=4, started_h=4, finished_h=2, state="failed", now=now)  # 0 h, 2 h

    waits = recent_waits({allocation.pk, other_allocation.pk}, now, 7 * 24 * HOUR)

    assert waits[allocation.pk] == pytest.approx((3 * HOUR, 11 * HOUR))
    assert waits[other_allocation.pk] == pytest.approx((0.0, 2 * HOUR))
    # a longer window takes the old job in too (100 h waited, 10 h run)
    longer = recent_waits({allocation.pk}, now, 30 * 24 * HOUR)
    assert longer[allocation.pk] == pytest.approx((103 * HOUR, 21 * HOUR))


@pytest.mark.parametrize(
    "budget, history_waited_h, preempted",
    [
        (0.0, 0, 1),  # no budget: it preempts at once
        (0.03, 0, 0),  # 100 h run, nothing waited: it waits as anyone does
        (0.03, 10, 1),  # 10 h waited already: beyond 3 % of 100 h, it preempts
    ],
)
def test_a_within_share_job_preempts_once_its_allocation_has_spent_its_wait_budget(
    backend, owner, outsider, allocation, other_allocation, settings, budget, history_waited_h, preempted
):
    """theirs runs all 8 A100 GPUs (two jobs of 4), beyond its share of 4; mine waits for 4, within its
    share, after a recent job that ran 100 h."""
    settings.GPUGRANT_PREEMPTION_SHARES = "demand"
    settings.GPUGRANT_PREEMPTION_WAIT_S = 0
    settings.GPUGRANT_PREEMPTION_GRACE_S = 0
    settings.GPUGRANT_PREEMPTION_WAIT_BUDGET = budget
    inventory_sync(backend=backend)
    now = timezone.now()
    earlier = submit(owner, allocation, name="earlier")
    _dated(
        earlier,
        submitted_h=101 + history_waited_h,
        started_h=101,
        finished_h=1,
        state="succeeded",
        now=now,
    )
    for i in range(2):
        submit(outsider, other_allocation, gpus_per_pod=4, name=f"theirs {i}")
    run_cycle(backend=backend)
    waiting = submit(owner, allocation, gpus_per_pod=4, name="waiting")

    snapshot, _ = build_snapshot(backend_name=backend.name)
    mine = next(a for a in snapshot.allocations if a.allocation_id == str(allocation.pk))
    if budget:
        assert (mine.waited_s, mine.ran_s) == pytest.approx((history_waited_h * HOUR, 100 * HOUR), abs=60)
    else:  # not read where nothing weighs them
        assert (mine.waited_s, mine.ran_s) == (0.0, 0.0)
    assert run_cycle(backend=backend).preempted == preempted
    waiting.refresh_from_db()
    assert waiting.state == "queued"
