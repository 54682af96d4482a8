"""Benchmark: replay a job trace through the real scheduler.core.plan and reference policies.

    python -m bench.replay --trace FILE --gpus N [--gpus-per-node 8] [--policy NAME ...]
        [--runtime-estimate user|none|hour|2x|exact] [--shares equal|proportional]
        [--history FILE] [--history-weeks 4] [--preemptible] [--restart-cost-s 300]
        [--las-threshold-gpu-h 1] [--json OUT]

The trace is a CSV with the columns job_id, vc, submit_s, num_gpus, duration_s (e.g. the Philly slices
in ../shared/traces/philly/). Each ``vc`` is one allocation. See bench/sim.py for the simulation model
and the runtime-estimate rules, bench/policies.py for the policies, bench/shares.py for the shares;
docs/benchmarks.md section 5 for results.

Every policy's tenants get a ``sharing_ratio``: their avg JCT under it ÷ under ``static_partition``
(each tenant alone on its own slice), with the same rule and shares; ``static_partition`` is run for it
even when not asked for (``static_partition_baseline`` in the JSON says so).
"""

import argparse
import json
import sys
import time

from bench.policies import GPUGRANT_VARIANTS, POLICIES, make
from bench.shares import DEFAULT_HISTORY_WEEKS, SHARE_RULES, resolve_shares
from bench.sim import (
    DEFAULT_RULE,
    RULE_HELP,
    RUNTIME_RULES,
    Sim,
    job_jcts,
    load_trace,
    metrics,
    parse_clusters,
    sharing_ratios,
)

HOUR = 3600.0
BASELINE = "static_partition"
FEDERATED_POLICIES = ("gpugrant", "pinned")  # the policies that keep a gang inside one cluster
FEDERATION_JCT_TARGET = 1.5  # issue 16: avg JCT ≥ 1.5× better than pinned
FEDERATION_UTIL_TARGET = 0.10  # and utilisation ≥ 10 points higher


def federation_targets(results: dict) -> dict | None:
    """Issue 16's targets for gpugrant against pinned on the same clusters (None without both)."""
    g, p = results.get("gpugrant"), results.get("pinned")
    if g is None or p is None:
        return None
    ratio = p["avg_jct_s"] / g["avg_jct_s"]
    points = g["utilization"] - p["utilization"]
    return {
        "jct_pinned_over_gpugrant": round(ratio, 3),
        "jct_met": ratio >= FEDERATION_JCT_TARGET,
        "utilisation_points": round(points * 100, 1),
        "utilisation_met": points >= FEDERATION_UTIL_TARGET,
    }


def run_policy(
    jobs,
    gpus: int,
    policy: str,
    gpus_per_node: int = 8,
    runtime_estimate: str = DEFAULT_RULE,
    shares="equal",
    preemptible: bool = False,
    restart_cost_s: float = 300.0,
    las_threshold_gpu_s: float = 3600.0,
    check: bool = False,
    cycle_s: float = 0.0,
    clusters=None,
    demand=None,
) -> tuple[dict, dict]:
    """One replay of ``jobs`` (fresh Job objects) → (metrics, job id → (tenant, JCT)).

    ``shares`` is "equal" or the weights from bench.shares.resolve_shares; ``clusters`` splits the GPUs
    into clusters (bench.sim.parse_clusters), ``demand`` is what ``pinned`` balances them by."""
    if clusters and policy not in FEDERATED_POLICIES and not policy.startswith("gpugrant"):
        raise ValueError(f"{policy} ignores cluster boundaries: with --clusters use gpugrant or pinned")
    sim = Sim(
        jobs,
        gpus,
        gpus_per_node=gpus_per_node,
        runtime_rule=runtime_estimate,
        preemptible=preemptible,
        restart_cost_s=restart_cost_s,
        check=check,
        cycle_s=cycle_s,
        clusters=clusters,
    )
    started = time.perf_counter()
    sim.run(make(policy, shares=shares, las_threshold_gpu_s=las_threshold_gpu_s, demand=demand))
    result = metrics(sim)
    result["wall_s"] = round(time.perf_counter() - started, 2)
    return result, job_jcts(sim)


def replay(
    trace: str,
    gpus: int,
    policy: str,
    gpus_per_node: int = 8,
    runtime_estimate: str = DEFAULT_RULE,
    shares: str = "equal",
    preemptible: bool = False,
    restart_cost_s: float = 300.0,
    las_threshold_gpu_s: float = 3600.0,
    check: bool = False,
    cycle_s: float = 0.0,
    jobs=None,
    history=None,
    history_weeks: float = DEFAULT_HISTORY_WEEKS,
) -> dict:
    """One policy on a trace file (or on ``jobs`` taken from it) → its metrics."""
    result, _ = run_policy(
        jobs if jobs is not None else load_trace(trace),
        gpus,
        policy,
        gpus_per_node=gpus_per_node,
        runtime_estimate=runtime_estimate,
        shares=resolve_shares(shares, trace, history, history_weeks),
        preemptible=preemptible,
        restart_cost_s=restart_cost_s,
        las_threshold_gpu_s=las_threshold_gpu_s,
        check=check,
        cycle_s=cycle_s,
    )
    return result


def replay_policies(load_jobs, gpus: int, policies, on_result=None, **options) -> dict:
    """Several policies on the same jobs (``load_jobs()`` gives fresh ones each time), with every
    tenant's sharing ratio against ``static_partition`` (run once more if not among ``policies``).

    Returns {"policies": {name: metrics}, "static_partition_baseline": {...}}."""
    results, jcts = {}, {}
    for name in policies:
        results[name], jcts[name] = run_policy(load_jobs(), gpus, name, **options)
        if on_result is not None:
            on_result(name, results[name])
    if BASELINE in results:
        baseline = {"requested": True, "see": f"policies.{BASELINE}"}
    elif options.get("clusters"):
        baseline = {"requested": False, "error": "no dedicated slices across clusters: no sharing ratios"}
    else:
        try:
            result, jcts[BASELINE] = run_policy(load_jobs(), gpus, BASELINE, **options)
            baseline = {"requested": False, "run_for": "the sharing ratios", "result": result}
        except ValueError as error:  # more tenants than nodes: no slices, so no ratios
            baseline = {"requested": False, "error": str(error)}
    for name, result in results.items():
        add_sharing_ratios(result, jcts[name], jcts.get(BASELINE, {}))
    return {"policies": results, "static_partition_baseline": baseline}


def add_sharing_ratios(result: dict, jcts: dict, alone: dict) -> None:
    """Write ``tenants.<vc>.sharing_ratio`` and ``max_sharing_ratio`` into a policy's metrics."""
    ratios = sharing_ratios(jcts, alone)
    for vc, tenant in result["tenants"].items():
        tenant["sharing_ratio"] = ratios.get(vc)
    result["max_sharing_ratio"] = max(ratios.values()) if ratios else None


def _line(name: str, r: dict) -> str:
    est = r["estimates"]
    est_text = f"{est['median_error']:>7.2f}" if est["median_error"] is not None else f"{'—':>7}"
    return (
        f"{name:<17}{r['jobs_completed']:>6}{r['jobs_killed']:>7}{r['jobs_never_fit']:>7}"
        f"{r['avg_jct_s'] / HOUR:>9.2f}{r['median_jct_s'] / HOUR:>9.2f}"
        f"{r['avg_queue_s'] / HOUR:>8.2f}{r['p99_queue_s'] / HOUR:>8.2f}{r['utilization']:>6.2f}"
        f"{r['jain_index']:>6.3f}{r['preemptions']:>8}{r['gpu_hours_lost']:>9.1f}{est_text}"
        f"{r['wall_s']:>7.1f}"
    )


HEADER = (
    f"{'policy':<17}{'done':>6}{'killed':>7}{'nofit':>7}{'avgJCT h':>9}{'medJCT h':>9}{'avgQ h':>8}"
    f"{'p99Q h':>8}{'util':>6}{'jain':>6}{'preempt':>8}{'lostGPUh':>9}{'estErr':>7}{'wall s':>7}"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", required=True)
    parser.add_argument("--gpus", type=int, required=True)
    parser.add_argument("--gpus-per-node", type=int, default=8)
    parser.add_argument(
        "--policy",
        action="append",
        help=f"one of {', '.join(sorted({*POLICIES, *GPUGRANT_VARIANTS}))}, or gpugrant{{JSON of Policy fields}}",
    )
    parser.add_argument(
        "--runtime-estimate", default=DEFAULT_RULE, choices=tuple(RUNTIME_RULES), help=RULE_HELP
    )
    parser.add_argument(
        "--shares",
        default="equal",
        choices=SHARE_RULES,
        help="tenant weights: equal, or proportional to GPU-hours used in the history before the window",
    )
    parser.add_argument(
        "--history",
        help="trace to take proportional shares from (default: philly_jobs_full.csv beside --trace)",
    )
    parser.add_argument("--history-weeks", type=float, default=DEFAULT_HISTORY_WEEKS)
    parser.add_argument("--preemptible", action="store_true")
    parser.add_argument("--restart-cost-s", type=float, default=300.0)
    parser.add_argument("--las-threshold-gpu-h", type=float, default=1.0)
    parser.add_argument("--check", action="store_true", help="assert simulator invariants (slower)")
    parser.add_argument(
        "--cycle-s", type=float, default=0.0, help="decide once per cycle of this many virtual seconds"
    )
    parser.add_argument(
        "--clusters",
        help="split the GPUs into clusters, NAME:GPUS,… summing to --gpus (gpugrant and pinned only)",
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    try:
        shares = resolve_shares(args.shares, args.trace, args.history, args.history_weeks)
        clusters = parse_clusters(args.clusters) if args.clusters else None
    except ValueError as error:
        parser.error(str(error))
    demand, demand_from = None, None
    if clusters:  # pinned balances clusters by each tenant's GPU-hours before the window, where known
        try:
            demand = resolve_shares("proportional", args.trace, args.history, args.history_weeks)
            demand_from = f"GPU-hours in the {args.history_weeks:g} weeks before the window"
        except (ValueError, OSError):
            demand, demand_from = "equal", "equal (no history before the window)"
    out = {
        "trace": args.trace,
        "gpus": args.gpus,
        "gpus_per_node": args.gpus_per_node,
        "runtime_estimate": args.runtime_estimate,
        "shares": args.shares,
        "share_weights": shares if isinstance(shares, dict) else None,
        "history_weeks": args.history_weeks if args.shares == "proportional" else None,
        "preemptible": args.preemptible,
        "restart_cost_s": args.restart_cost_s,
        "cycle_s": args.cycle_s,
        "clusters": dict(clusters) if clusters else None,
        "pinned_demand": demand_from,
    }
    print(HEADER)
    try:
        out |= replay_policies(
            lambda: load_trace(args.trace),
            args.gpus,
            args.policy or POLICIES,
            on_result=lambda name, r: print(_line(name, r), flush=True),
            gpus_per_node=args.gpus_per_node,
            runtime_estimate=args.runtime_estimate,
            shares=shares,
            preemptible=args.preemptible,
            restart_cost_s=args.restart_cost_s,
            las_threshold_gpu_s=args.las_threshold_gpu_h * HOUR,
            check=args.check,
            cycle_s=args.cycle_s,
            clusters=clusters,
            demand=demand,
        )
    except ValueError as error:  # e.g. static_partition with more tenants than nodes
        print(f"error: {error}", file=sys.stderr)
        return 2
    out["federation"] = federation_targets(out["policies"])
    if out["federation"] is not None:
        print(
            "federation (issue 16: pinned ÷ gpugrant avg JCT ≥ 1.5, utilisation ≥ 10 points higher):",
            out["federation"],
        )
    ratios = {name: r["max_sharing_ratio"] for name, r in out["policies"].items()}
    print("max sharing ratio (avg JCT ÷ alone on a static slice, worst tenant):", ratios)
    lb = next(iter(out["policies"].values()))["lower_bound_avg_jct_s"]
    print(f"lower bound (mean duration): {lb / HOUR:.2f} h")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
