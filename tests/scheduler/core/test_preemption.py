"""Preemption of low-priority and over-share jobs for within-share jobs that waited too long."""

from dataclasses import replace

from scheduler.core import Policy, PreemptionReason, Priority, WaitReason, plan
from scheduler.core.estimate import estimate_ranges
from scheduler.core.predict import Prediction
from tests.scheduler.core.builders import HOUR, allocation, node, queued, running, snapshot

# The mechanics below, each on its own: shares by demand, victims may take their allocation below its share.
POLICY = Policy(
    preemption_wait_s=HOUR, preemption_shares="demand", keep_victims_share=False, max_preemptions=0
)
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
    assert result.preemptions[0].reason == PreemptionReason.LOW_PRIORITY
    assert result.waiting["waiting"] == WaitReason.WAITING_FOR_PREEMPTION
    assert result.reservations[0].job_id == "waiting" and result.reservations[0].start_at == 2 * HOUR


def test_it_does_not_preempt_before_the_wait_threshold():
    assert plan(case(waited=HOUR / 2)).preemptions == ()


def test_it_preempts_a_normal_job_only_when_its_allocation_runs_beyond_its_share():
    over_share = plan(case(victim_priority=Priority.NORMAL))  # theirs runs 8 GPUs, its share is 4
    assert [p.job_id for p in over_share.preemptions] == ["victim"]
    assert over_share.preemptions[0].reason == PreemptionReason.OVER_FAIR_SHARE
    within_share = plan(case(victim_priority=Priority.NORMAL, victim_gpus=4))  # 4 = exactly its share
    assert within_share.preemptions == ()


def test_it_never_preempts_high_priority_or_the_same_allocations_normal_jobs():
    assert plan(case(victim_priority=Priority.HIGH)).preemptions == ()
    assert plan(case(victim_priority=Priority.NORMAL, victim_allocation="mine")).preemptions == ()


def test_a_low_job_preempts_only_other_allocations_low_jobs_beyond_their_share():
    # theirs runs 8 low GPUs with a share of 4: mine (low, within share) reclaims its share
    reclaim = plan(case(queued_priority=Priority.LOW))
    assert [p.job_id for p in reclaim.preemptions] == ["victim"]
    # never normal work, never within-share low work, never its own allocation's jobs
    assert plan(case(queued_priority=Priority.LOW, victim_priority=Priority.NORMAL)).preemptions == ()
    assert plan(case(queued_priority=Priority.LOW, victim_gpus=4)).preemptions == ()
    assert plan(case(queued_priority=Priority.LOW, victim_allocation="mine")).preemptions == ()


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


def test_nodes_freed_by_preemption_stay_held_for_the_preemptor_in_later_plans():
    first = plan(case())
    (hold,) = first.preemption_holds
    assert (hold.job_id, hold.nodes, hold.since) == ("waiting", ("n1",), 2 * HOUR)
    # Next cycle: the victim is gone, and a fresh job of an allocation with better fair share ranks
    # first and would fit on n1. The held node still goes to the job it was freed for.
    waiting = replace(queued("waiting", 4, allocation="mine"), held_nodes=hold.nodes, held_since=hold.since)
    rival = queued("rival", 8, allocation="fresh", submitted_at=2 * HOUR)
    allocations = [allocation("mine", usage=100.0), allocation("theirs", usage=100.0), allocation("fresh")]
    second = plan(
        snapshot([node("n1")], [rival, waiting], allocations=allocations, now=2 * HOUR + 60, policy=POLICY)
    )
    assert second.order[0] == "rival"
    assert [s.job_id for s in second.starts] == ["waiting"] and second.preemption_holds == ()
    # While the victim is still stopping, the hold continues (with its first time) and nothing preempts.
    still = plan(
        snapshot(
            [node("n1", free=0)],
            [rival, waiting],
            run=[running("victim", "n1", 8, ends_at=100 * HOUR, allocation="theirs", priority=Priority.LOW)],
            allocations=allocations,
            now=2 * HOUR + 60,
            policy=POLICY,
        )
    )
    assert still.starts == () and still.preemptions == ()
    assert [(h.job_id, h.since) for h in still.preemption_holds] == [("waiting", 2 * HOUR)]
    assert still.waiting["waiting"] == WaitReason.WAITING_FOR_PREEMPTION


def test_a_hold_expires_after_the_preemption_hold_time():
    waiting = replace(queued("waiting", 4, allocation="mine"), held_nodes=("n1",), held_since=0.0)
    rival = queued("rival", 8, allocation="fresh")
    policy = Policy(preemption_wait_s=1e9, preemption_hold_s=HOUR)
    allocations = [allocation("mine", usage=100.0), allocation("fresh")]
    expired = plan(snapshot([node("n1")], [rival, waiting], allocations=allocations, now=HOUR, policy=policy))
    assert [s.job_id for s in expired.starts] == ["rival"] and expired.preemption_holds == ()


def test_a_job_younger_than_the_grace_period_is_never_a_victim():
    young = snapshot(
        [node("n1", free=0)],
        [queued("waiting", 4, allocation="mine", submitted_at=0)],
        run=[
            running(
                "victim",
                "n1",
                8,
                ends_at=100 * HOUR,
                allocation="theirs",
                priority=Priority.LOW,
                started_at=HOUR,
            )
        ],
        allocations=ALLOCATIONS,
        now=2 * HOUR,
        policy=Policy(preemption_wait_s=HOUR, preemption_grace_s=HOUR + 1),
    )
    assert plan(young).preemptions == ()
    assert [
        p.job_id
        for p in plan(
            replace(young, policy=Policy(preemption_wait_s=HOUR, preemption_grace_s=HOUR))
        ).preemptions
    ] == ["victim"]


def test_a_job_preempted_max_preemptions_times_is_never_preempted_again():
    snap = case(victim_priority=Priority.NORMAL)  # theirs runs beyond its share: a victim
    victim = replace(snap.running[0], preemptions=2)
    for limit, expected in ((0, ["victim"]), (3, ["victim"]), (2, []), (1, [])):
        policy = replace(POLICY, max_preemptions=limit)
        result = plan(replace(snap, running=(victim,), policy=policy))
        assert [p.job_id for p in result.preemptions] == expected, limit


def test_a_normal_job_that_ran_preemption_max_run_s_is_never_preempted():
    snap = case(victim_priority=Priority.NORMAL)  # theirs runs 8 GPUs beyond its share; started at 0, now 2 h
    # limit, victim priority → preempted?
    cases = (
        (0, Priority.NORMAL, ["victim"]),  # no limit
        (3 * HOUR, Priority.NORMAL, ["victim"]),  # ran 2 h of at most 3
        (2 * HOUR, Priority.NORMAL, []),  # ran exactly the limit
        (HOUR, Priority.NORMAL, []),
        (HOUR, Priority.LOW, ["victim"]),  # low-priority jobs accept preemption however long they ran
    )
    for limit, priority, expected in cases:
        victim = replace(snap.running[0], priority=priority)
        policy = replace(POLICY, preemption_max_run_s=limit)
        result = plan(replace(snap, running=(victim,), policy=policy))
        assert [p.job_id for p in result.preemptions] == expected, (limit, priority)
        if not expected:  # never a victim again: no date to preempt it either
            assert result.preemption_due == {}
            assert result.waiting["waiting"] != WaitReason.WAITING_FOR_PREEMPTION


def test_preemption_max_run_s_leaves_the_younger_victims_and_dates_their_grace():
    # theirs runs two 4-GPU jobs on one node beyond its share of 4: one for 6 h, one still in its grace
    now, grace = 6 * HOUR, 10 * 60
    run = [
        running("old", "n1", 4, ends_at=100 * HOUR, allocation="theirs", started_at=0),
        running("new", "n1", 4, ends_at=100 * HOUR, allocation="theirs", started_at=now - 300, first_gpu=4),
    ]
    snap = snapshot(
        [node("n1", free=0)],
        [queued("waiting", 4, allocation="mine", submitted_at=0)],
        run=run,
        allocations=ALLOCATIONS,
        now=now,
        policy=replace(POLICY, preemption_grace_s=grace),
    )
    assert [p.job_id for p in plan(snap).preemptions] == ["old"]  # no limit: the one out of its grace
    limited = plan(replace(snap, policy=replace(snap.policy, preemption_max_run_s=2 * HOUR)))
    assert limited.preemptions == ()
    assert limited.preemption_due == {"waiting": now - 300 + grace}  # "new" once its grace ends


def test_a_within_share_job_preempts_only_once_its_allocation_spent_its_wait_budget():
    snap = case()  # mine's 4-GPU job has waited 2 h; a low-priority victim would free the node
    predicted = replace(snap.queue[0], prediction=Prediction(10 * HOUR, 5 * HOUR, 20 * HOUR, "user", 3))
    # budget, mine's recent (waited, ran), the waiting job → preempted?, when the budget runs out
    cases = (
        (0.0, (0, 100 * HOUR), snap.queue[0], True, None),  # no budget: at once
        (0.1, (0, 100 * HOUR), snap.queue[0], False, 2 * HOUR + 8 * HOUR),  # 2 h waited of 10 allowed
        (0.1, (9 * HOUR, 100 * HOUR), snap.queue[0], True, None),  # 9 + 2 h waited: beyond 10
        (0.1, (0, 20 * HOUR), snap.queue[0], True, None),  # exactly spent (2 h of 2)
        (0.1, (0, 20 * HOUR), predicted, False, 2 * HOUR + HOUR),  # its own 10 h predicted count too
        (0.1, (0, 0), snap.queue[0], True, None),  # nothing ran yet: no budget to spend
    )
    for budget, (waited, ran), job, expected, due in cases:
        mine = replace(ALLOCATIONS[0], waited_s=waited, ran_s=ran)
        result = plan(
            replace(
                snap,
                queue=(job,),
                allocations=(mine, ALLOCATIONS[1]),
                policy=replace(POLICY, preemption_wait_budget=budget),
            )
        )
        assert bool(result.preemptions) == expected, (budget, waited, ran)
        assert result.budget_due.get("waiting") == due, (budget, waited, ran)
        if not expected:  # it waits as anyone does: a reservation, no preemption promised
            assert result.waiting["waiting"] == WaitReason.RESERVED
            assert result.preemption_due == {}


def test_a_job_its_budget_holds_back_keeps_later_jobs_from_preempting_past_it():
    # mine and other each wait for 2 GPUs, within their shares (8 / 3 each); theirs runs the node beyond its
    # share. Mine ranks first but its budget holds it back; other has spent its own.
    run = [running("victim", "n1", 8, ends_at=100 * HOUR, allocation="theirs")]
    queue = [
        queued("a-mine", 2, allocation="mine", submitted_at=0),
        queued("b-other", 2, allocation="other", submitted_at=0),
    ]
    allocations = [
        allocation("mine"),
        allocation("theirs"),
        allocation("other"),
    ]
    allocations[0] = replace(allocations[0], ran_s=1000 * HOUR)
    for attempts, expected in ((1, []), (2, ["victim"])):
        policy = replace(POLICY, preemption_wait_budget=0.05, preemption_attempts=attempts)
        result = plan(
            snapshot(
                [node("n1", free=0)], queue, run=run, allocations=allocations, now=2 * HOUR, policy=policy
            )
        )
        assert result.order[0] == "a-mine"
        assert [p.job_id for p in result.preemptions] == expected, attempts
        assert "a-mine" in result.budget_due


def _two_over_share(victim_sizes, policy):
    """mine waits for 4 GPUs; theirs runs ``victim_sizes`` on one 8-GPU node (a share of 4 each)."""
    run, first = [], 0
    for i, gpus in enumerate(victim_sizes):
        run.append(
            running(
                f"v{i}", "n1", gpus, ends_at=100 * HOUR, allocation="theirs", started_at=i, first_gpu=first
            )
        )
        first += gpus
    return snapshot(
        [node("n1", free=8 - first)],
        [queued("waiting", 4, allocation="mine")],
        run=run,
        allocations=ALLOCATIONS,
        now=2 * HOUR,
        policy=policy,
    )


def test_keep_victims_share_never_pushes_the_victims_allocation_below_its_share():
    keep = replace(POLICY, keep_victims_share=True)
    # One 8-GPU victim would leave theirs at 0 of its share of 4: mine's next job would preempt back.
    cases = (
        ((8,), POLICY, ["v0"]),
        ((8,), keep, []),
        ((4, 4), keep, ["v1"]),  # theirs keeps 4 = its share; the most recent goes
        ((4, 2, 2), keep, ["v1", "v2"]),  # the two most recent, 4 GPUs: exactly theirs' excess
        ((6, 2), POLICY, ["v0"]),
        ((6, 2), keep, []),  # 2 GPUs freed are too few, and the 6-GPU job is beyond the excess left
    )
    for sizes, policy, expected in cases:
        result = plan(_two_over_share(sizes, policy))
        assert sorted(p.job_id for p in result.preemptions) == sorted(expected), (sizes, policy)


def test_guaranteed_shares_do_not_grow_when_other_allocations_have_no_demand():
    # An idle third allocation: by demand mine's share is 4 (8 GPUs / 2), guaranteed 8/3 ≈ 2.67.
    allocations = (*ALLOCATIONS, allocation("idle"))
    snap = replace(case(victim_priority=Priority.NORMAL), allocations=allocations)  # theirs runs all 8
    assert [p.job_id for p in plan(snap).preemptions] == ["victim"]
    guaranteed = replace(snap, policy=replace(POLICY, preemption_shares="guaranteed"))
    assert plan(guaranteed).preemptions == ()  # mine's 4 GPUs exceed its guaranteed 2.67
    small = replace(guaranteed, queue=(queued("waiting", 2, allocation="mine"),))
    assert [p.job_id for p in plan(small).preemptions] == ["victim"]  # 2 ≤ 2.67; theirs 8 > 2.67


def test_a_job_blocked_only_by_its_victims_grace_is_told_when_it_will_preempt():
    grace = 10 * 60
    snap = case(victim_priority=Priority.NORMAL)  # theirs runs 8 GPUs beyond its share of 4
    young = replace(snap.running[0], started_at=2 * HOUR - 4 * 60)  # 6 minutes of grace left
    snap = replace(snap, running=(young,), policy=replace(POLICY, preemption_grace_s=grace))
    result = plan(snap)
    assert result.preemptions == ()
    assert result.preemption_due == {"waiting": young.started_at + grace}
    # Its estimated start is then, not when the victim would end (100 h).
    estimate = estimate_ranges(snap, result)["waiting"]
    assert estimate.at == young.started_at + grace
    # A victim within share gives no date: nothing will ever be preempted for it.
    within = replace(young, pods=young.pods, allocation_id="mine")
    assert plan(replace(snap, running=(within,))).preemption_due == {}


def _scattered(scrap_gpus: int):
    """theirs runs beyond its share: a recent small job beside keeper's (within share) on n1, and two
    8-GPU jobs on n2 and n3; mine waits for a whole node. Shares by demand: 32 GPUs / 3."""
    run = [
        running("keeper-1", "n1", 4, ends_at=100 * HOUR, allocation="keeper"),
        running(
            "scrap", "n1", scrap_gpus, ends_at=100 * HOUR, allocation="theirs", started_at=3, first_gpu=4
        ),
        running("whole", "n2", 8, ends_at=100 * HOUR, allocation="theirs", started_at=2),
        running("older", "n3", 8, ends_at=100 * HOUR, allocation="theirs", started_at=1),
        running("keeper-4", "n4", 6, ends_at=100 * HOUR, allocation="keeper"),
        running("mine-4", "n4", 2, ends_at=100 * HOUR, allocation="mine", first_gpu=6),
    ]
    return snapshot(
        [node("n1", free=4 - scrap_gpus), node("n2", free=0), node("n3", free=0), node("n4", free=0)],
        [queued("waiting", 8, allocation="mine")],
        run=run,
        allocations=[*ALLOCATIONS, allocation("keeper")],
        now=2 * HOUR,
        policy=replace(POLICY, keep_victims_share=True),
    )


def test_victims_for_a_whole_node_are_found_node_by_node_when_the_cheapest_are_scattered():
    # theirs runs 20 of its 10.67: 9.33 GPUs may go. Taken cheapest first, the 4-GPU scrap beside
    # keeper's job (which no one may preempt) uses 4 of them and frees no node; then each 8-GPU job is
    # beyond what is left. Node by node, emptying n2 costs one 8-GPU job, within theirs' excess.
    assert [p.job_id for p in plan(_scattered(4)).preemptions] == ["whole"]
    # theirs runs 18: 7.33 may go, too few for any 8-GPU job, whichever search.
    assert plan(_scattered(2)).preemptions == ()
