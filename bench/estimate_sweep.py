"""Benchmark: how true the estimated starts are, one way of estimating against another.

    python -m bench.estimate_sweep --trace ../shared/traces/philly/philly_jobs_full.csv \\
        --gpus 256 --gpus 512 --json bench-results/estimate-sweep.json [--week 2017-11-06 ...] \\
        [--compare estimator|calibration]

For every loaded full week (as bench.replay_weeks picks them: strict FIFO's average queueing over an
hour) and GPU count, gpugrant replays the week twice under the ``user`` rule, equal shares, once each
way (COMPARISONS, the way before first):
- ``estimator``: the product's estimator (scheduler/core/estimate.py, pods booked on nodes, a gang in
  one cluster) against its ``by_node=False`` baseline (the type's free GPUs counted over time, as
  before 2026-12-07);
- ``calibration``: the product's calibration (scheduler/core/calibration.py: the plan's estimate, the
  range widened by how recent estimates turned out) against moving the estimate too by the band's
  median ratio (``move_estimate=True``, as before the second change of 2026-12-07).
Estimates never steer the plan, so both replays make the same decisions (checked: same average JCT and
preemptions) and differ only in what users are told. Each job's first estimate is compared with its
first start as the replay's estimate accuracy is (bench/sim.py ``estimate_accuracy``: jobs that waited
at least 5 minutes), over all jobs and apart for pods of a whole node or more (8 GPUs here).
``python -m bench.report --only estimate-sweep`` (``--only estimate-calibration`` for the second
comparison) writes the table into docs/benchmarks.md from the estimate-*.json in its ``--out`` that hold
that comparison (the JSON's ``compare``).
"""

import argparse
import csv
import json
import sys
import time

from bench.policies import Gpugrant
from bench.replay import HOUR, run_policy
from bench.replay_weeks import full_weeks
from bench.sim import Sim, estimate_accuracy, jobs_from_rows, metrics
from bench.trace_slice import slice_rows

GPUS_PER_NODE = 8
# comparison → {its way before: Gpugrant's arguments, the product's way: Gpugrant's arguments}
COMPARISONS = {
    "estimator": {"gpu_count": {"estimate_by_node": False}, "nodes": {}},
    "calibration": {"moved": {"calibration_moves_estimate": True}, "range_only": {}},
}


def _replay(rows, gpus: int, options: dict) -> dict:
    sim = Sim(jobs_from_rows(rows), gpus, gpus_per_node=GPUS_PER_NODE, runtime_rule="user")
    started = time.perf_counter()
    sim.run(Gpugrant(**options))
    whole = [job for job in sim.done if job.gpus_per_pod >= GPUS_PER_NODE]
    result = metrics(sim)
    return {
        "avg_jct_s": result["avg_jct_s"],
        "preemptions": result["preemptions"],
        "all": result["estimates"],
        "whole_node_pods": estimate_accuracy(whole),
        "wall_s": round(time.perf_counter() - started, 1),
    }


def sweep_week(rows, gpus: int, min_fifo_queue_s: float, log=print, compare: str = "estimator") -> dict:
    fifo, _ = run_policy(jobs_from_rows(rows), gpus, "fifo", runtime_estimate="user")
    run = {"gpus": gpus, "jobs": len(rows), "selected": fifo["avg_queue_s"] > min_fifo_queue_s}
    if not run["selected"]:
        return run
    for name, options in COMPARISONS[compare].items():
        run[name] = _replay(rows, gpus, options)
        acc = run[name]["all"]
        log(
            f"  {gpus} GPUs {name:<9} median {acc['median_error']} p90 {acc['p90_error']} "
            f"in range {acc['inside_range']} ({acc['jobs_estimated']} jobs, {run[name]['wall_s']} s)"
        )
    a, b = (run[name] for name in COMPARISONS[compare])
    if (a["avg_jct_s"], a["preemptions"]) != (b["avg_jct_s"], b["preemptions"]):
        raise RuntimeError(f"the {compare} changed the plan's decisions at {gpus} GPUs")
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", required=True, help="a full trace with submit_time (philly_jobs_full.csv)")
    parser.add_argument("--gpus", type=int, action="append")
    parser.add_argument("--week", action="append", help="only these weeks (their Monday, YYYY-MM-DD)")
    parser.add_argument("--min-fifo-queue-h", type=float, default=1.0)
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="estimator")
    parser.add_argument("--json", required=True)
    args = parser.parse_args(argv)
    with open(args.trace, newline="") as f:
        rows = list(csv.DictReader(f))
    weeks = full_weeks(rows)
    if args.week:
        weeks = [w for w in weeks if w.strftime("%Y-%m-%d") in args.week]
    out = {
        "command": "python -m bench.estimate_sweep " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "compare": args.compare,
        "weeks": [],
    }
    for monday in weeks:
        week_rows = slice_rows(rows, monday, 7)
        print(f"{monday:%Y-%m-%d}: {len(week_rows)} jobs", flush=True)
        for gpus in args.gpus or [256, 512]:
            run = sweep_week(week_rows, gpus, args.min_fifo_queue_h * HOUR, compare=args.compare)
            out["weeks"].append({"week": f"{monday:%Y-%m-%d}", **run})
            with open(args.json, "w") as f:  # after every run: a long sweep keeps what it measured
                json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
