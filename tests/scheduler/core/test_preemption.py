"""Preemption of low-priority and over-share jobs for within-share jobs that waited too long."""

from scheduler.core import Policy, Priority, WaitReason, plan
from tests.scheduler.core.builders import HOUR, allocation, node, queued, running, snapshot

POLICY = Policy(preemption_wait_s=HOUR)
ALLOCATIONS = [allocation("mine"), allocation("theirs")]


def case(
    victim_priority=Priority.LOW,
    victim_allocation="theirs",
    waited=2 * HOUR,
    victim_gpus=8,
    queued_priority=Priority.NORMAL,
):
    return snapshot(
        [node("n1", free=8 - victim_gpus)],
        [queued("waiting", 4, allocation="mine", submitted_at=0, priority=queued_priority)],
        run=[
            running(
                "victim",
                "n1",
                victim_gpus,
                ends_at=100 * HOUR,
                allocation=victim_allocation,
                priority=victim_priority,
            )
        ],
        allocations=ALLOCATIONS,
        now=waited,
        policy=POLICY,
    )


def test_it_preempts_a_low_priority_job_for_a_job_that_waited_long_enough():
    result = plan(case())
    assert [(p.job_id, p.for_job_id) for p in result.preemptions] == [("victim", "waiting")]
    assert "low priority" in result.preemptions[0].reason
    assert result.waiting["waiting"] == WaitReason.WAITING_FOR_PREEMPTION
    assert result.reservations[0].job_id == "waiting" and result.reservations[0].start_at == 2 * HOUR


def test_it_does_not_preempt_before_the_wait_threshold():
    assert plan(case(waited=HOUR / 2)).preemptions == ()


def test_it_preempts_a_normal_job_only_when_its_allocation_runs_beyond_its_share():
    over_share = plan(case(victim_priority=Priority.NORMAL))  # theirs runs 8 GPUs, its share is 4
    assert [p.job_id for p in over_share.preemptions] == ["victim"]
    assert "beyond its fair share" in over_share.preemptions[0].reason
    within_share = plan(case(victim_priority=Priority.NORMAL, victim_gpus=4))  # 4 = exactly its share
    assert within_share.preemptions == ()


def test_it_never_preempts_high_priority_or_the_same_allocations_normal_jobs():
    assert plan(case(victim_priority=Priority.HIGH)).preemptions == ()
    assert plan(case(victim_priority=Priority.NORMAL, victim_allocation="mine")).preemptions == ()


def test_low_priority_jobs_never_preempt():
    assert plan(case(queued_priority=Priority.LOW)).preemptions == ()


def test_it_preempts_the_fewest_and_most_recent_jobs_needed():
    snap = snapshot(
        [node("n1", free=0)],
        [queued("waiting", 2, allocation="mine")],
        run=[
            running(
                "old",
                "n1",
                2,
                ends_at=100 * HOUR,
                allocation="theirs",
                priority=Priority.LOW,
                started_at=0,
                first_gpu=0,
            ),
            running(
                "new",
                "n1",
                2,
                ends_at=100 * HOUR,
                allocation="theirs",
                priority=Priority.LOW,
                started_at=HOUR,
                first_gpu=2,
            ),
            running(
                "other",
                "n1",
                4,
                ends_at=100 * HOUR,
                allocation="theirs",
                priority=Priority.LOW,
                started_at=HOUR / 2,
                first_gpu=4,
            ),
        ],
        allocations=ALLOCATIONS,
        now=3 * HOUR,
        policy=POLICY,
    )
    assert [p.job_id for p in plan(snap).preemptions] == ["new"]
