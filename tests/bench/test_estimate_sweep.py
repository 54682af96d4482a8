"""bench.estimate_sweep: the node-booking estimator against counting free GPUs, on the same decisions,
and its generated table. Tiny hand-made traces; never timings."""

import pytest

from bench.estimate_sweep import sweep_week
from bench.policies import Gpugrant
from bench.report import estimate_sweep_table
from bench.sim import Sim, jobs_from_rows

HOUR = 3600


def _fragmented_rows():
    """Three 8-GPU nodes: tenant a's three 5-GPU jobs take one each (best fit), leaving 3 + 3 + 3 GPUs
    free; then b's 8-GPU job arrives. a keeps its guaranteed share (12 GPUs, 3 over), so nothing is
    preempted and b waits until a's first job ends, 4 h in."""
    rows = [
        {"job_id": str(i), "vc": "a", "submit_s": str(i), "num_gpus": "5", "duration_s": str((4 + i) * HOUR)}
        for i in range(3)
    ]
    rows.append({"job_id": "3", "vc": "b", "submit_s": "600", "num_gpus": "8", "duration_s": str(HOUR)})
    return rows


@pytest.mark.parametrize("by_node", [True, False])
def test_a_gang_waiting_on_scattered_gpus_is_told_now_only_by_the_gpu_count(by_node):
    sim = Sim(jobs_from_rows(_fragmented_rows()), 24, gpus_per_node=8, runtime_rule="user")
    sim.run(Gpugrant(estimate_by_node=by_node))
    job = sim.by_id["3"]
    given, start, low, high = job.first_estimate
    assert job.first_start == pytest.approx(4 * HOUR)  # a's first job ends: its node is whole again
    if by_node:
        # no node has 8 GPUs before a running job ends (by its max_runtime: nothing has finished yet)
        assert low > given + 3 * HOUR and start >= low
    else:
        assert start == low == high == given  # 9 GPUs free in all: "now", and it waited 4 h


def test_the_sweep_replays_both_estimators_on_the_same_decisions_and_the_report_tables_them():
    run = sweep_week(_fragmented_rows(), 24, 0.0, log=lambda line: None)
    assert run["selected"]
    nodes, count = run["nodes"], run["gpu_count"]
    assert (nodes["avg_jct_s"], nodes["preemptions"]) == (count["avg_jct_s"], count["preemptions"])
    # b's gang is the one job that waited; the count told it "now" (error 1), the nodes did not
    assert count["whole_node_pods"]["jobs_waited"] == nodes["whole_node_pods"]["jobs_waited"] == 1
    assert count["whole_node_pods"]["median_error"] == 1.0
    assert count["whole_node_pods"]["inside_range"] == 0.0
    assert nodes["whole_node_pods"]["median_error"] != 1.0
    table = estimate_sweep_table([{"command": "x", "date": "2026-12-07", "weeks": [{"week": "w", **run}]}])
    row = next(line for line in table.splitlines() if line.startswith("| w | 24 |"))
    assert "1 → " in row and "**MISSED**" in row
    assert "of 1" in table.splitlines()[-1]
