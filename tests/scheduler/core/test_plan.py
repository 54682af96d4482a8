"""Table-driven cases for scheduler.core.plan: each names a situation and the decision wanted."""

from dataclasses import replace

import pytest

from scheduler.core import Policy, Priority, WaitReason, plan
from tests.scheduler.core.builders import HOUR, allocation, node, placed, queued, running, snapshot

CASES = {
    "a job that fits starts": dict(
        snap=snapshot([node("n1")], [queued("j", 4)]),
        starts={"j": [("n1", 4)]},
    ),
    "GPU types never mix": dict(
        snap=snapshot([node("a1"), node("h1", gpu_type="H100")], [queued("j", 2, gpu_type="H100")]),
        starts={"j": [("h1", 2)]},
    ),
    "a type the cluster lacks never fits": dict(
        snap=snapshot([node("a1")], [queued("j", 1, gpu_type="H200")]),
        starts={},
        waiting={"j": WaitReason.NEVER_FITS},
    ),
    "more GPUs per pod than any node has never fits": dict(
        snap=snapshot([node("n1", gpus=4, free=4)], [queued("j", 8)]),
        starts={},
        waiting={"j": WaitReason.NEVER_FITS},
    ),
    "cordoned nodes are not used": dict(
        snap=snapshot([node("n1", schedulable=False), node("n2", free=2)], [queued("j", 4)]),
        starts={},
        waiting={"j": WaitReason.NO_FREE_GPUS},
    ),
    "a gang is placed whole across nodes": dict(
        snap=snapshot([node("n1"), node("n2")], [queued("j", 8, pods=2)]),
        starts={"j": [("n1", 8), ("n2", 8)]},
    ),
    "a gang that does not fit takes nothing, and a later job still runs": dict(
        snap=snapshot(
            [node("n1"), node("n2", free=4)],
            [queued("gang", 8, pods=2, submitted_at=0), queued("small", 4, submitted_at=1, runtime=HOUR)],
            run=[running("r", "n2", 4, ends_at=10 * HOUR)],
        ),
        # the gang reserves n1 (free now) and n2 at 10h; small fits on n2's spare? no: n2's 4 free GPUs are
        # needed at 10h, so small (1h) runs there only because it ends long before 10h.
        starts={"small": [("n2", 4)]},
        waiting={"gang": WaitReason.RESERVED},
    ),
    "best fit: the fullest node that fits, keeping whole nodes whole": dict(
        snap=snapshot(
            [node("empty"), node("half", free=2)], [queued("small", 2), queued("big", 8, submitted_at=1)]
        ),
        starts={"small": [("half", 2)], "big": [("empty", 8)]},
    ),
    "GPUs held back for sessions: a batch job leaves them free, a session takes them": dict(
        snap=snapshot(
            [node("n1", free=4)],
            [
                queued("batch", 4),
                queued("session", 1, submitted_at=1),
                queued("small", 1, submitted_at=2),  # leaves the 2 held back: it may start
                queued("pair", 2, submitted_at=3),  # would leave 0 of the 2: it may not
            ],
            policy=Policy(session_reserve=(("A100", 2),)),
        ),
        starts={"session": [("n1", 1)], "small": [("n1", 1)]},
        waiting={"batch": WaitReason.SESSION_RESERVE, "pair": WaitReason.SESSION_RESERVE},
        interactive={"session"},
    ),
    "with nothing held back, the batch job takes the GPUs": dict(
        snap=snapshot([node("n1", free=4)], [queued("batch", 4), queued("session", 1, submitted_at=1)]),
        starts={"batch": [("n1", 4)]},
        waiting={"session": WaitReason.RESERVED},  # it starts when the batch job ends
        interactive={"session"},
    ),
    "the concurrency cap holds a job back without blocking others": dict(
        snap=snapshot(
            [node("n1")],
            [queued("capped", 4, allocation="a"), queued("other", 4, allocation="b", submitted_at=1)],
            run=[],
            allocations=[allocation("a", cap=2), allocation("b")],
        ),
        starts={"other": [("n1", 4)]},
        waiting={"capped": WaitReason.CONCURRENCY_CAP},
    ),
    "backfill: a short job runs on reserved GPUs if it ends before the reservation": dict(
        snap=snapshot(
            [node("n1", free=4)],
            [queued("head", 8, submitted_at=0), queued("short", 4, runtime=HOUR / 2, submitted_at=1)],
            run=[running("r", "n1", 4, ends_at=HOUR)],
        ),
        starts={"short": [("n1", 4)]},
        waiting={"head": WaitReason.RESERVED},
    ),
    "backfill: a long job may not delay the reservation": dict(
        snap=snapshot(
            [node("n1", free=4)],
            [queued("head", 8, submitted_at=0), queued("long", 4, runtime=2 * HOUR, submitted_at=1)],
            run=[running("r", "n1", 4, ends_at=HOUR)],
            policy=Policy(reservation_depth=1),
        ),
        starts={},
        waiting={"head": WaitReason.RESERVED, "long": WaitReason.BEHIND_RESERVATION},
    ),
    "backfill: nodes outside the reservation are free for anyone": dict(
        snap=snapshot(
            [node("n1", free=4), node("n2", free=2)],
            [queued("head", 8, submitted_at=0), queued("long", 2, runtime=9 * HOUR, submitted_at=1)],
            run=[running("r", "n1", 4, ends_at=HOUR), running("r2", "n2", 6, ends_at=5 * HOUR)],
        ),
        starts={"long": [("n2", 2)]},
        waiting={"head": WaitReason.RESERVED},
    ),
    "a gang's pods share a reservation's spare GPUs rather than each using them": dict(
        snap=snapshot(
            [node("n1", free=6)],
            [queued("head", 7), queued("gang", 1, pods=2, runtime=2 * HOUR, priority=Priority.LOW)],
            run=[running("r", "n1", 2, ends_at=HOUR)],
        ),
        # head is reserved at 1h with one spare GPU; the gang would keep two GPUs past 1h, so it
        # does not start now and is reserved after the head instead
        starts={},
        waiting={"head": WaitReason.RESERVED, "gang": WaitReason.RESERVED},
    ),
    "reservations stop at the configured depth": dict(
        snap=snapshot(
            [node("n1", free=0)],
            [queued(f"j{i}", 8, submitted_at=i) for i in range(3)],
            run=[running("r", "n1", 8, ends_at=HOUR)],
            policy=Policy(reservation_depth=2),
        ),
        starts={},
        waiting={"j0": WaitReason.RESERVED, "j1": WaitReason.RESERVED, "j2": WaitReason.NO_FREE_GPUS},
    ),
    "low-priority jobs get reservations too, or a large low job would starve behind small ones": dict(
        snap=snapshot(
            [node("n1", free=0), node("n2", free=1)],
            [
                queued("big", 8, priority=Priority.LOW),
                queued("small", 1, runtime=2 * HOUR, priority=Priority.LOW),
            ],
            run=[running("r", "n1", 8, ends_at=HOUR), running("r2", "n2", 7, ends_at=HOUR / 2)],
            policy=Policy(reservation_depth=1),
        ),
        # n2 frees first (at 0.5h): big is reserved there; small would run past 0.5h, so it waits
        starts={},
        waiting={"big": WaitReason.RESERVED, "small": WaitReason.BEHIND_RESERVATION},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_it_decides(name):
    case = CASES[name]
    snap, marked = case["snap"], case.get("interactive", set())
    if marked:  # these queued jobs are interactive sessions
        snap = replace(snap, queue=tuple(replace(j, interactive=j.job_id in marked) for j in snap.queue))
    result = plan(snap)
    assert placed(result) == case["starts"]
    for job_id, reason in case.get("waiting", {}).items():
        assert result.waiting[job_id] == reason, (job_id, result.waiting)
    assert not set(result.waiting) & set(placed(result))


def test_it_reserves_the_earliest_start_and_the_nodes():
    snap = snapshot(
        [node("n1", free=0), node("n2", free=0)],
        [queued("head", 8, pods=2)],
        run=[running("r1", "n1", 8, ends_at=2 * HOUR), running("r2", "n2", 8, ends_at=3 * HOUR)],
    )
    (reservation,) = plan(snap).reservations
    assert (reservation.job_id, reservation.start_at, reservation.nodes) == ("head", 3 * HOUR, ("n1", "n2"))


def test_it_chains_reservations_one_after_another():
    snap = snapshot(
        [node("n1", free=0)],
        [queued("j0", 8), queued("j1", 8, submitted_at=1)],
        run=[running("r", "n1", 8, ends_at=HOUR)],
    )
    assert [(r.job_id, r.start_at) for r in plan(snap).reservations] == [("j0", HOUR), ("j1", 2 * HOUR)]


def test_it_treats_overdue_jobs_as_ending_now():
    snap = snapshot(
        [node("n1", free=0)], [queued("j", 8)], run=[running("r", "n1", 8, ends_at=HOUR)], now=5 * HOUR
    )
    assert plan(snap).reservations[0].start_at == 5 * HOUR
