"""Sweep: replay every loaded full week of a trace and check issue 15's targets on each.

    python -m bench.replay_weeks --trace ../shared/traces/philly/philly_jobs_full.csv \\
        --gpus 256 --gpus 512 --json bench-results/weeks.json [--week 2017-10-23 ...]

Weeks run Monday 00:00 to the next Monday 00:00 by ``submit_time``, read as the naive wall-clock times
the trace gives (Philly's own calendar; no time zone is stated); a week is full if the trace has
submissions before its Monday and after its end. For each week and GPU count, strict FIFO runs first;
only weeks where FIFO's average queueing delay exceeds ``--min-fifo-queue-h`` (1 h) are replayed, with
gpugrant, fifo_backfill, static_partition, sjf_oracle and las under the ``user`` rule, gpugrant and
sjf_oracle again under ``none``, equal shares, normal (non-checkpointable) jobs. One JSON holds every
run and its targets; ``python -m bench.report --only weeks`` turns it into the table of
docs/benchmarks.md. ``--week`` limits the sweep to the weeks named (to check it, or to split it over
processes: ``--merge A.json B.json --json OUT`` joins the parts, each week and size once).

To try a change of gpugrant's Policy over the whole sweep without rerunning the references,
``--gpugrant 'gpugrant{"max_preemptions": 3}' --reuse BASE.json`` runs that policy in gpugrant's place
(under ``user`` and ``none``) and static_partition again (the sharing ratios need its per-job times; the
sweep stops if its result differs from BASE's), and takes every other policy's result from BASE.
"""

import argparse
import csv
import json
import sys
import time
from datetime import datetime, timedelta

from bench.replay import HOUR, replay_policies, run_policy
from bench.sim import jobs_from_rows
from bench.trace_slice import slice_rows

USER_POLICIES = ("gpugrant", "fifo_backfill", "static_partition", "sjf_oracle", "las")
NONE_POLICIES = ("gpugrant", "sjf_oracle")
EASY_SJF_MIN_GAP = 0.05  # the backfill-closing target only where EASY is this much worse than SJF


def full_weeks(rows) -> list[datetime]:
    """Mondays 00:00 of the weeks that lie wholly between the trace's first and last submission."""
    times = [datetime.fromisoformat(row["submit_time"]) for row in rows]
    first, last = min(times), max(times)
    monday = datetime.combine(first.date() - timedelta(days=first.weekday()), datetime.min.time())
    if monday < first:
        monday += timedelta(weeks=1)
    weeks = []
    while monday + timedelta(weeks=1) < last:
        weeks.append(monday)
        monday += timedelta(weeks=1)
    return weeks


def _target(short: str, name: str, value, op: str, bound: float) -> dict:
    ops = {"<=": float.__le__, ">=": float.__ge__}
    met = None if value is None else ops[op](float(value), float(bound))
    rounded = None if value is None else round(value, 3)
    return {"target": name, "short": short, "value": rounded, "op": op, "bound": bound, "met": met}


def week_targets(user: dict, none: dict) -> list[dict]:
    """Issue 15's targets for gpugrant on one run; ``met`` None where a target does not apply (or where
    nothing was measured: no estimates given)."""
    g, easy, sjf, alone, las = (
        user[p] for p in ("gpugrant", "fifo_backfill", "sjf_oracle", "static_partition", "las")
    )
    gap = easy["avg_jct_s"] - sjf["avg_jct_s"]
    closed = (easy["avg_jct_s"] - g["avg_jct_s"]) / gap if gap > EASY_SJF_MIN_GAP * sjf["avg_jct_s"] else None
    none_ratio = none["gpugrant"]["avg_jct_s"] / none["sjf_oracle"]["avg_jct_s"]
    est = g["estimates"]
    return [
        _target(
            "JCT ÷ SJF", "avg JCT ≤ 1.2× sjf_oracle's (ratio)", g["avg_jct_s"] / sjf["avg_jct_s"], "<=", 1.2
        ),
        _target(
            "EASY–SJF gap closed",
            "(EASY − gpugrant) ÷ (EASY − SJF) ≥ 0.75, where EASY's avg JCT > 1.05× SJF's",
            closed,
            ">=",
            0.75,
        ),
        _target(
            "max sharing ratio",
            "max sharing ratio (a tenant's avg JCT ÷ alone on its static slice)",
            g["max_sharing_ratio"],
            "<=",
            1.05,
        ),
        _target(
            "static ÷ JCT",
            "avg JCT ≥ 2× better than static_partition (ratio)",
            alone["avg_jct_s"] / g["avg_jct_s"],
            ">=",
            2.0,
        ),
        _target("none: JCT ÷ SJF", "rule none: avg JCT ≤ 1.5× sjf_oracle's (ratio)", none_ratio, "<=", 1.5),
        _target(
            "preemptions ÷ LAS",
            "preemptions ≤ 1/10 of LAS's (ratio)",
            g["preemptions"] / max(1, las["preemptions"]),
            "<=",
            0.1,
        ),
        _target("estimate median", "estimated start: median |error| ÷ wait", est["median_error"], "<=", 0.35),
        _target("estimate p90", "estimated start: p90 |error| ÷ wait", est["p90_error"], "<=", 1.5),
        _target(
            "estimate in range", "estimated start: share inside [low, high]", est["inside_range"], ">=", 0.8
        ),
    ]


def replay_week(rows, gpus: int, min_fifo_queue_s: float, log=print, gpugrant="gpugrant", base=None) -> dict:
    """One week at one size: FIFO first, then, if it is loaded, every policy under ``user`` and ``none``.

    ``gpugrant`` names the policy run in gpugrant's place; with ``base`` (this week's run of an earlier
    sweep) only it and static_partition run, the rest is taken from ``base``."""
    if base is not None:
        return _replay_against(rows, gpus, gpugrant, base, log)
    load = lambda: jobs_from_rows(rows)  # noqa: E731 (fresh Job objects for every run)
    started = time.perf_counter()
    fifo, _ = run_policy(load(), gpus, "fifo", runtime_estimate="user")
    run = {"gpus": gpus, "jobs": len(rows), "fifo_avg_queue_s": fifo["avg_queue_s"]}
    run["selected"] = fifo["avg_queue_s"] > min_fifo_queue_s
    log(f"  {gpus} GPUs: FIFO avg queue {fifo['avg_queue_s'] / HOUR:.2f} h ({fifo['wall_s']:.1f} s)")
    if gpugrant != "gpugrant":
        run["gpugrant_policy"] = gpugrant
    if run["selected"]:
        wall = {}

        def note(name, result):
            wall[name] = result["wall_s"]
            log(
                f"    user  {name:<17} avg JCT {result['avg_jct_s'] / HOUR:7.2f} h  {result['wall_s']:6.1f} s"
            )

        user = replay_policies(
            load, gpus, _named(USER_POLICIES, gpugrant), on_result=note, runtime_estimate="user"
        )
        user["policies"] = _renamed(user["policies"], gpugrant)
        user["policies"]["fifo"] = fifo
        none = {}
        for name in NONE_POLICIES:
            none[name], _ = run_policy(
                load(), gpus, gpugrant if name == "gpugrant" else name, runtime_estimate="none"
            )
            log(
                f"    none  {name:<17} avg JCT {none[name]['avg_jct_s'] / HOUR:7.2f} h  {none[name]['wall_s']:6.1f} s"
            )
        run |= {"user": user, "none": {"policies": none}}
        run["targets"] = week_targets(user["policies"], none)
    run["wall_s"] = round(time.perf_counter() - started, 1)
    return run


def _named(policies, gpugrant: str) -> tuple:
    return tuple(gpugrant if name == "gpugrant" else name for name in policies)


def _renamed(results: dict, gpugrant: str) -> dict:
    return {("gpugrant" if name == gpugrant else name): result for name, result in results.items()}


def _replay_against(rows, gpus: int, gpugrant: str, base: dict, log) -> dict:
    """``gpugrant`` (in gpugrant's place) and static_partition on one week; the rest from ``base``."""
    run = {
        key: value for key, value in base.items() if key not in ("targets", "wall_s", "load_average_after")
    }
    run["gpugrant_policy"] = gpugrant
    if not base["selected"]:
        return run
    started = time.perf_counter()
    load = lambda: jobs_from_rows(rows)  # noqa: E731
    user = replay_policies(load, gpus, (gpugrant, "static_partition"), runtime_estimate="user")
    alone, before = user["policies"]["static_partition"], base["user"]["policies"]["static_partition"]
    if (alone["avg_jct_s"], alone["jobs_completed"]) != (before["avg_jct_s"], before["jobs_completed"]):
        raise RuntimeError(f"static_partition differs from the base sweep's on {base['week']} at {gpus} GPUs")
    ours = user["policies"][gpugrant]
    log(f"    user  {gpugrant} avg JCT {ours['avg_jct_s'] / HOUR:7.2f} h  {ours['wall_s']:6.1f} s")
    none, _ = run_policy(load(), gpus, gpugrant, runtime_estimate="none")
    log(f"    none  {gpugrant} avg JCT {none['avg_jct_s'] / HOUR:7.2f} h  {none['wall_s']:6.1f} s")
    run["user"] = {**base["user"], "policies": {**base["user"]["policies"], "gpugrant": ours}}
    run["none"] = {"policies": {**base["none"]["policies"], "gpugrant": none}}
    run["targets"] = week_targets(run["user"]["policies"], run["none"]["policies"])
    run["wall_s"] = round(time.perf_counter() - started, 1)
    return run


def merge_sweeps(parts: list[dict], command: str) -> dict:
    """One sweep from several run side by side (``--week`` splits): each (week, GPUs) run once, from the
    first part that has it, in calendar order; every part's command is kept."""
    out = {key: value for key, value in parts[0].items() if key != "weeks"}
    out |= {"command": command, "parts": [part["command"] for part in parts], "weeks": []}
    seen = set()
    for part in parts:
        for run in part["weeks"]:
            if (run["week"], run["gpus"]) not in seen:
                seen.add((run["week"], run["gpus"]))
                out["weeks"].append(run)
    sizes = {gpus: i for i, gpus in enumerate(out["gpus"])}
    out["weeks"].sort(key=lambda run: (run["week"], sizes.get(run["gpus"], len(sizes))))
    return out


def main(argv=None) -> int:
    from bench.report import load_average, machine  # the report's machine description, same words

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merge", nargs="+", metavar="PART", help="merge these sweeps' JSON into --json")
    parser.add_argument("--trace", help="a full trace with submit_time (philly_jobs_full.csv)")
    parser.add_argument("--gpus", type=int, action="append")
    parser.add_argument("--week", action="append", help="only these weeks (their Monday, YYYY-MM-DD)")
    parser.add_argument("--min-fifo-queue-h", type=float, default=1.0)
    parser.add_argument("--gpugrant", default="gpugrant", help="the policy run in gpugrant's place")
    parser.add_argument("--reuse", metavar="BASE", help="take every other policy's result from this sweep")
    parser.add_argument("--json", required=True)
    args = parser.parse_args(argv)
    command = "python -m bench.replay_weeks " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.merge:
        parts = []
        for path in args.merge:
            with open(path) as f:
                parts.append(json.load(f))
        with open(args.json, "w") as f:
            json.dump(merge_sweeps(parts, command), f, indent=2)
        return 0
    if not args.trace or not args.gpus:
        parser.error("--trace and --gpus are required (unless --merge)")
    with open(args.trace, newline="") as f:
        rows = list(csv.DictReader(f))
    weeks = full_weeks(rows)
    if args.week:
        wanted = {datetime.fromisoformat(w) for w in args.week}
        weeks = [w for w in weeks if w in wanted]
        if len(weeks) != len(wanted):
            parser.error(f"not a full week's Monday in this trace: {sorted(wanted - set(weeks))}")
    out = {
        "command": command,
        "trace": args.trace,
        "calendar": "Monday 00:00 to Monday 00:00 by the trace's naive submit_time",
        "gpus": args.gpus,
        "runtime_estimates": {"user": list(USER_POLICIES), "none": list(NONE_POLICIES)},
        "shares": "equal",
        "min_fifo_avg_queue_s": args.min_fifo_queue_h * HOUR,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "weeks": [],
    }
    base = {}
    if args.reuse:
        with open(args.reuse) as f:
            base = {(run["week"], run["gpus"]): run for run in json.load(f)["weeks"]}
        out["reused"] = args.reuse
    if args.gpugrant != "gpugrant":
        out["gpugrant_policy"] = args.gpugrant
    for monday in weeks:
        week_rows = slice_rows(rows, monday, 7)
        print(f"week of {monday.date()}: {len(week_rows)} jobs", flush=True)
        for gpus in args.gpus:
            key = (monday.date().isoformat(), gpus)
            if args.reuse and key not in base:
                parser.error(f"{args.reuse} has no run of {key[0]} at {gpus} GPUs")
            run = replay_week(
                week_rows,
                gpus,
                args.min_fifo_queue_h * HOUR,
                log=lambda s: print(s, flush=True),
                gpugrant=args.gpugrant,
                base=base.get(key),
            )
            run |= {"week": monday.date().isoformat(), "load_average_after": load_average()}
            out["weeks"].append(run)
            with open(args.json, "w") as f:  # after every run: a long sweep keeps what it did
                json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
