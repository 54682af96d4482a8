"""Benchmark: replay a job trace through the real scheduler.core.plan and reference policies.

    python -m bench.replay --trace FILE --gpus N [--gpus-per-node 8] [--policy NAME ...]
        [--runtime-estimate hour|2x|exact] [--shares equal|proportional] [--preemptible]
        [--restart-cost-s 300] [--las-threshold-gpu-h 1] [--json OUT]

The trace is a CSV with the columns job_id, vc, submit_s, num_gpus, duration_s (e.g. the Philly slices
in ../shared/traces/philly/). Each ``vc`` is one allocation. See bench/sim.py for the simulation model
and bench/policies.py for the policies; docs/benchmarks.md section 5 for results.
"""

import argparse
import json
import sys
import time

from bench.policies import POLICIES, make
from bench.sim import Sim, load_trace, metrics

HOUR = 3600.0


def replay(
    trace: str,
    gpus: int,
    policy: str,
    gpus_per_node: int = 8,
    runtime_estimate: str = "hour",
    shares: str = "equal",
    preemptible: bool = False,
    restart_cost_s: float = 300.0,
    las_threshold_gpu_s: float = 3600.0,
    check: bool = False,
    cycle_s: float = 0.0,
    jobs=None,
) -> dict:
    sim = Sim(
        jobs if jobs is not None else load_trace(trace),
        gpus,
        gpus_per_node=gpus_per_node,
        runtime_rule=runtime_estimate,
        preemptible=preemptible,
        restart_cost_s=restart_cost_s,
        check=check,
        cycle_s=cycle_s,
    )
    started = time.perf_counter()
    sim.run(make(policy, shares=shares, las_threshold_gpu_s=las_threshold_gpu_s))
    result = metrics(sim)
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", required=True)
    parser.add_argument("--gpus", type=int, required=True)
    parser.add_argument("--gpus-per-node", type=int, default=8)
    parser.add_argument("--policy", action="append", choices=POLICIES)
    parser.add_argument("--runtime-estimate", default="hour", choices=("hour", "2x", "exact"))
    parser.add_argument("--shares", default="equal", choices=("equal", "proportional"))
    parser.add_argument("--preemptible", action="store_true")
    parser.add_argument("--restart-cost-s", type=float, default=300.0)
    parser.add_argument("--las-threshold-gpu-h", type=float, default=1.0)
    parser.add_argument("--check", action="store_true", help="assert simulator invariants (slower)")
    parser.add_argument(
        "--cycle-s", type=float, default=0.0, help="decide once per cycle of this many virtual seconds"
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    out = {
        "trace": args.trace,
        "gpus": args.gpus,
        "gpus_per_node": args.gpus_per_node,
        "runtime_estimate": args.runtime_estimate,
        "shares": args.shares,
        "preemptible": args.preemptible,
        "restart_cost_s": args.restart_cost_s,
        "cycle_s": args.cycle_s,
        "policies": {},
    }
    header = (
        f"{'policy':<14}{'done':>6}{'avgJCT h':>9}{'medJCT h':>9}{'avgQ h':>8}{'p99Q h':>8}"
        f"{'util':>6}{'mkspan h':>9}{'jain':>6}{'preempt':>8}{'lostGPUh':>9}{'wall s':>7}"
    )
    print(header)
    for name in args.policy or POLICIES:
        r = replay(
            args.trace,
            args.gpus,
            name,
            gpus_per_node=args.gpus_per_node,
            runtime_estimate=args.runtime_estimate,
            shares=args.shares,
            preemptible=args.preemptible,
            restart_cost_s=args.restart_cost_s,
            las_threshold_gpu_s=args.las_threshold_gpu_h * HOUR,
            check=args.check,
            cycle_s=args.cycle_s,
        )
        out["policies"][name] = r
        print(
            f"{name:<14}{r['jobs_completed']:>6}{r['avg_jct_s'] / HOUR:>9.2f}{r['median_jct_s'] / HOUR:>9.2f}"
            f"{r['avg_queue_s'] / HOUR:>8.2f}{r['p99_queue_s'] / HOUR:>8.2f}{r['utilization']:>6.2f}"
            f"{r['makespan_s'] / HOUR:>9.1f}{r['jain_index']:>6.3f}{r['preemptions']:>8}"
            f"{r['gpu_hours_lost']:>9.1f}{r['wall_s']:>7.1f}",
            flush=True,
        )
    lb = next(iter(out["policies"].values()))["lower_bound_avg_jct_s"]
    print(f"lower bound (mean duration): {lb / HOUR:.2f} h")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
