"""Benchmark: one scheduler.core.plan() on a national-scale snapshot.

    python -m bench.scheduler_scale [--nodes 1250] [--jobs 100000] [--allocations 200] [--repeat 5] [--json OUT]

A 10,000-GPU cluster (1,250 nodes × 8 GPUs, 80 % A100 / 20 % H100), about half busy with running jobs,
and a queue of 100,000 jobs from 200 allocations. Reports the median plan() time, peak traced memory,
and how time grows with jobs and with nodes. The baseline, run in the same process, is ordering the
queue by fair share alone (fairshare.ordered_queue): the least any fair scheduler must do. Beside it,
what the cycle does after the plan: the estimated starts (estimate.estimate_ranges), booking pods on
nodes and, as its baseline, counting free GPUs per type.
"""

import argparse
import gc
import json
import random
import statistics
import time
import tracemalloc

from scheduler.core import (
    AllocationState,
    Node,
    PodPlacement,
    Policy,
    Priority,
    QueuedJob,
    RunningJob,
    Snapshot,
    plan,
)
from scheduler.core.estimate import estimate_ranges
from scheduler.core.fairshare import ordered_queue

HOUR = 3600.0


def synthetic_snapshot(nodes: int, jobs: int, allocations: int, seed: int = 2026) -> Snapshot:
    rng = random.Random(seed)
    now = 30 * 24 * HOUR
    allocation_ids = [f"alloc-{i:04d}" for i in range(allocations)]
    states = tuple(
        AllocationState(a, rng.uniform(1_000, 50_000), rng.uniform(0, 5e7), rng.choice([8, 16, 32, 64, 256]))
        for a in allocation_ids
    )
    node_list, running = [], []
    for i in range(nodes):
        gpu_type = "H100" if i % 5 == 0 else "A100"
        name = f"gpu-node-{i:05d}"
        used = rng.choice([0, 0, 2, 4, 6, 8, 8])  # about half the GPUs busy, fragmented
        cursor = 0
        while cursor < used:
            size = min(used - cursor, rng.choice([1, 2, 4, 8]))
            running.append(
                RunningJob(
                    f"run-{i}-{cursor}",
                    rng.choice(allocation_ids),
                    gpu_type,
                    (PodPlacement(name, tuple(range(cursor, cursor + size))),),
                    now - rng.uniform(0, 10 * HOUR),
                    rng.uniform(HOUR, 48 * HOUR),
                    Priority.LOW if rng.random() < 0.1 else Priority.NORMAL,
                )
            )
            cursor += size
        node_list.append(Node(name, gpu_type, 8, frozenset(range(used, 8))))
    queue = tuple(
        QueuedJob(
            f"job-{i:07d}",
            rng.choice(allocation_ids),
            "H100" if rng.random() < 0.2 else "A100",
            rng.choice([1, 1, 1, 1, 2, 2, 4, 8]),
            1 if rng.random() < 0.95 else rng.choice([2, 4, 8]),
            rng.choice([0.5, 1, 2, 4, 8, 24, 72]) * HOUR,
            now - rng.uniform(0, 7 * 24 * HOUR),
            Priority.LOW if rng.random() < 0.15 else Priority.NORMAL,
        )
        for i in range(jobs)
    )
    return Snapshot(now, tuple(node_list), tuple(running), queue, states, Policy())


def median_seconds(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def peak_mib(function) -> float:
    gc.collect()
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def measure(nodes: int, jobs: int, allocations: int, repeat: int) -> dict:
    snapshot = synthetic_snapshot(nodes, jobs, allocations)
    decision = plan(snapshot)
    plan_s = median_seconds(lambda: plan(snapshot), repeat)
    baseline_s = median_seconds(lambda: ordered_queue(snapshot), repeat)
    # The cycle's estimated starts after the plan (not part of plan()): pods booked on nodes, and the
    # GPU count it replaced, in the same process
    estimated = estimate_ranges(snapshot, decision)
    estimate_s = median_seconds(lambda: estimate_ranges(snapshot, decision), repeat)
    count_s = median_seconds(lambda: estimate_ranges(snapshot, decision, by_node=False), repeat)
    return {
        "nodes": nodes,
        "gpus": nodes * 8,
        "jobs": jobs,
        "allocations": allocations,
        "running": len(snapshot.running),
        "plan_median_s": round(plan_s, 4),
        "baseline_order_median_s": round(baseline_s, 4),
        "ratio_to_baseline": round(plan_s / baseline_s, 2),
        "estimates_median_s": round(estimate_s, 4),
        "estimates_gpu_count_median_s": round(count_s, 4),
        "estimated_jobs": len(estimated),
        "starts": len(decision.starts),
        "reservations": len(decision.reservations),
        "preemptions": len(decision.preemptions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1250)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--allocations", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-growth", action="store_true", help="skip the growth tables")
    parser.add_argument("--json")
    args = parser.parse_args()

    headline = measure(args.nodes, args.jobs, args.allocations, args.repeat)
    snapshot = synthetic_snapshot(args.nodes, args.jobs, args.allocations)
    headline["peak_traced_mib"] = round(peak_mib(lambda: plan(snapshot)), 1)
    report = {"headline": headline, "by_jobs": [], "by_nodes": []}
    print(json.dumps(headline))
    if not args.no_growth:
        for jobs in (1_000, 10_000, 50_000, 100_000):
            report["by_jobs"].append(measure(args.nodes, jobs, args.allocations, args.repeat))
            print(json.dumps(report["by_jobs"][-1]))
        for nodes in (125, 625, 1250, 2500):
            report["by_nodes"].append(measure(nodes, args.jobs, args.allocations, args.repeat))
            print(json.dumps(report["by_nodes"][-1]))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
