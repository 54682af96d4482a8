"""Estimated starts and their ranges (scheduler/core/estimate.py) from the plan and predicted runtimes."""

from dataclasses import replace

import pytest

from scheduler.core import Policy, plan
from scheduler.core.estimate import StartEstimate, estimate_ranges, estimate_starts
from scheduler.core.fairshare import ordered_queue
from scheduler.core.predict import Prediction
from tests.scheduler.core.builders import HOUR, node, queued, running, snapshot


def predicted(low_h: float, mid_h: float, high_h: float) -> Prediction:
    return Prediction(mid_h * HOUR, low_h * HOUR, high_h * HOUR, "same_name", 5)


# One node of 8 GPUs, all held by a job started at 0 with a max_runtime of 10 h; an 8-GPU job waits.
BUSY = dict(nodes=[node("n1", free=0)], run_ends_at=10 * HOUR)


@pytest.mark.parametrize(
    "running_prediction, now_h, expected",
    [
        # no history: the running job ends at its max_runtime, the only honest bound
        (None, 1, StartEstimate(10 * HOUR, 10 * HOUR, 10 * HOUR)),
        # its history says 2–4–6 h
        (predicted(2, 4, 6), 1, StartEstimate(4 * HOUR, 2 * HOUR, 6 * HOUR)),
        # it already ran past its median (5 h now): between now and its 90th percentile
        (predicted(2, 4, 6), 5, StartEstimate(5.5 * HOUR, 5 * HOUR, 6 * HOUR)),
        # past even its 90th percentile: the high end is its max_runtime
        (predicted(2, 4, 6), 8, StartEstimate(9 * HOUR, 8 * HOUR, 10 * HOUR)),
    ],
)
def test_a_waiting_job_starts_when_the_running_one_is_predicted_to_end(running_prediction, now_h, expected):
    busy = replace(running("r", "n1", 8, ends_at=BUSY["run_ends_at"]), prediction=running_prediction)
    snap = snapshot(BUSY["nodes"], [queued("q", 8)], [busy], now=now_h * HOUR)
    decision = plan(snap)
    assert estimate_ranges(snap, decision) == {"q": expected}
    assert estimate_starts(snap, decision) == {"q": expected.at}


def test_jobs_behind_are_booked_by_the_predicted_runtimes_of_those_ahead():
    busy = replace(running("r", "n1", 8, ends_at=10 * HOUR), prediction=predicted(1, 2, 3))
    first = replace(queued("first", 8, runtime=5 * HOUR, submitted_at=0), prediction=predicted(1, 1, 2))
    second = queued("second", 8, submitted_at=1)
    snap = snapshot([node("n1", free=0)], [first, second], [busy])
    ranges = estimate_ranges(snap, plan(snap))
    assert ranges["second"] == StartEstimate(3 * HOUR, 2 * HOUR, 5 * HOUR)


def test_a_reserved_start_is_a_promise_no_estimate_exceeds():
    # A history far longer than the job's max_runtime is bounded by it; the reservation is the promise.
    busy = replace(running("r", "n1", 8, ends_at=3 * HOUR), prediction=predicted(30, 40, 50))
    snap = snapshot([node("n1", free=0)], [queued("q", 8)], [busy])
    decision = plan(snap)
    (reservation,) = decision.reservations
    assert estimate_ranges(snap, decision)["q"].high <= reservation.start_at == 3 * HOUR


def test_the_fallback_scales_max_runtime_for_jobs_without_history():
    busy = running("r", "n1", 8, ends_at=10 * HOUR)
    snap = snapshot([node("n1", free=0)], [queued("q", 8)], [busy])

    def half(max_runtime):
        return Prediction(max_runtime / 2, max_runtime / 4, max_runtime * 0.75, "programme_ratio", 9)

    assert estimate_ranges(snap, plan(snap), fallback=half)["q"] == StartEstimate(
        5 * HOUR, 2.5 * HOUR, 7.5 * HOUR
    )


@pytest.mark.parametrize(
    "unknown_runtime, expected_order",
    [
        # least attained service: the new job without history counts as short (then age decides), the
        # requeued one by the 4 h it already ran, ahead of the one predicted to take 20 h
        ("attained", ["new", "short", "requeued", "long"]),
        # by the user's max_runtime: the new job asked for 7 days
        ("max_runtime", ["short", "requeued", "long", "new"]),
    ],
)
def test_ordering_goes_by_prediction_then_by_the_rule_for_jobs_without_history(
    unknown_runtime, expected_order
):
    queue = [
        replace(queued("long", runtime=24 * HOUR, submitted_at=0), prediction=predicted(10, 20, 24)),
        replace(queued("short", runtime=24 * HOUR, submitted_at=3), prediction=predicted(0.1, 0.5, 1)),
        queued("new", runtime=168 * HOUR, submitted_at=1),
        replace(queued("requeued", runtime=10 * HOUR, submitted_at=2), attained_gpu_s=4 * HOUR),
    ]
    snap = snapshot([node("n1")], queue, policy=Policy(unknown_runtime=unknown_runtime))
    assert [job.job_id for job in ordered_queue(snap)] == expected_order


@pytest.mark.parametrize(
    "waited_h, expected_first",
    [
        (24, "short"),  # a day's wait: the short job still goes first
        (167, "short"),  # just under max_age (7 days)
        (168, "long"),  # at max_age the long job goes ahead of every job that has not waited as long
    ],
)
def test_a_job_that_waited_max_age_goes_ahead_whatever_the_weights(waited_h, expected_first):
    now = 200 * HOUR
    long = replace(
        queued("long", runtime=48 * HOUR, submitted_at=now - waited_h * HOUR),
        prediction=predicted(40, 45, 48),
    )
    short = replace(queued("short", runtime=HOUR, submitted_at=now), prediction=predicted(0.1, 0.2, 0.3))
    snap = snapshot([node("n1")], [long, short], now=now)
    assert ordered_queue(snap)[0].job_id == expected_first


def _two_half_busy_nodes(first_cluster: str = "", second_cluster: str = ""):
    """n1 and n2, each with 4 of 8 GPUs busy: on n1 until 3 h, on n2 until 5 h (no history)."""
    nodes = [
        replace(node("n1", free=4), cluster=first_cluster),
        replace(node("n2", free=4), cluster=second_cluster),
    ]
    busy = [running("r1", "n1", 4, ends_at=3 * HOUR), running("r2", "n2", 4, ends_at=5 * HOUR)]
    return nodes, busy


@pytest.mark.parametrize(
    "gpus_per_pod, pods, clusters, expected_h",
    [
        # 8 GPUs are free now, but 4 on each node: a pod of 8 waits until n1 empties
        (8, 1, ("", ""), 3),
        # two pods of 4 fit now, one on each node
        (4, 2, ("", ""), 0),
        # ... but not in two clusters: a gang stays in one, so it waits until n1 has 8 free
        (4, 2, ("a", "b"), 3),
        # three pods of 4: n1 takes two once it empties at 3 h, n2 the third now
        (4, 3, ("", ""), 3),
        # two pods of 8: both nodes must be empty
        (8, 2, ("", ""), 5),
        # one GPU: any node, now
        (1, 1, ("a", "b"), 0),
    ],
)
def test_pods_are_booked_on_nodes_not_on_a_count_of_free_gpus(gpus_per_pod, pods, clusters, expected_h):
    nodes, busy = _two_half_busy_nodes(*clusters)
    # the job asks for 10 h; it waits (the plan starts it only if it fits now, so compare with the plan)
    job = queued("q", gpus_per_pod, pods=pods, runtime=10 * HOUR)
    snap = snapshot(nodes, [job], busy)
    decision = plan(snap)
    if expected_h == 0:
        assert [s.job_id for s in decision.starts] == ["q"]
        return
    assert estimate_starts(snap, decision)["q"] == expected_h * HOUR


def test_a_booked_job_keeps_its_node_from_the_jobs_behind_it():
    # n1 empties at 3 h and n2 at 5 h; the first 8-GPU job is booked on n1 from 3 h for 4 h, so the
    # second, which the GPU count alone would also start at 3 h (12 GPUs free then), waits for n2 at 5 h.
    nodes, busy = _two_half_busy_nodes()
    first = replace(queued("first", 8, runtime=10 * HOUR, submitted_at=0), prediction=predicted(4, 4, 4))
    second = queued("second", 8, runtime=HOUR, submitted_at=1)
    snap = snapshot(nodes, [first, second], busy, policy=Policy(short_job_weight=0))
    starts = estimate_starts(snap, plan(snap))
    assert starts == {"first": 3 * HOUR, "second": 5 * HOUR}


def test_the_gpu_count_baseline_says_now_where_the_gpus_are_only_scattered():
    # the benchmark's baseline (bench.estimate_sweep): 8 GPUs free in all, none of them on one node
    nodes, busy = _two_half_busy_nodes()
    snap = snapshot(nodes, [queued("q", 8, runtime=10 * HOUR)], busy)
    decision = plan(snap)
    assert estimate_starts(snap, decision)["q"] == 3 * HOUR
    assert estimate_ranges(snap, decision, by_node=False)["q"] == StartEstimate(0.0, 0.0, 0.0)
