"""Run the trace replay, the burst and the placement comparison, write JSON, and regenerate their tables.

    .venv/bin/python -m bench.report                      # all three (the burst and the placement
                                                          # comparison need PostgreSQL, RabbitMQ, Redis)
    .venv/bin/python -m bench.report --only replay        # no services needed
    .venv/bin/python -m bench.report --only burst         # [--burst-peer auto|slurm|none]: Slurm beside
                                                          # gpugrant (auto: if bench.slurm_peer imports,
                                                          # as root)
    .venv/bin/python -m bench.report --only placement     # also needs `make cluster` (with Kueue)
    .venv/bin/python -m bench.report --only weeks         # the table of an existing bench.replay_weeks
                                                          # JSON (--weeks-json, default weeks.json)
    .venv/bin/python -m bench.report --only session-start # click to a usable notebook on the demo's
                                                          # service (a few minutes; not in the default run)
    .venv/bin/python -m bench.report --only estimate-sweep # the table of bench.estimate_sweep's JSONs
                                                          # (estimate-*.json in --out, --compare
                                                          # estimator; --only estimate-calibration
                                                          # for --compare calibration)

(`make bench` runs the first.) Results go to ``--out`` (default ``bench-results/``, git-ignored) as
``replay.json``, ``burst.json`` and ``placement.json``; the tables between the ``<!-- bench:NAME -->``
markers in docs/benchmarks.md are rewritten from them, with the machine, the date and the targets
checked. Everything else in that file is left as it is.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.replay import add_sharing_ratios, run_policy
from bench.replay_weeks import week_targets
from bench.shares import resolve_shares
from bench.sim import ORACLE_DERIVED_RULES, load_trace

HOUR = 3600.0
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
DEFAULT_TRACE = ROOT.parent / "shared" / "traces" / "philly" / "philly_week_2017-10-23.csv"

# (label, policy, runtime rule, shares, preemptible). The headline is the ``user`` rule (a model of
# users' estimates) with equal shares; ``none`` (everyone asks for the 7-day maximum) beside it; the
# oracle-derived rules (hour, 2x: computed from the true duration) only for comparison.
SCENARIOS = [
    ("normal", "gpugrant", "user", "equal", False),
    ("normal", "gpugrant", "user", "proportional", False),
    ("normal", "gpugrant", "none", "equal", False),
    ("normal", "gpugrant", "hour", "equal", False),
    ("normal", "gpugrant", "2x", "equal", False),
    ("normal", "fifo", "user", "equal", False),
    ("normal", "fifo_backfill", "user", "equal", False),
    ("normal", "fifo_backfill", "hour", "equal", False),
    ("normal", "static_partition", "user", "equal", False),
    ("normal", "static_partition", "user", "proportional", False),
    ("normal", "sjf_oracle", "user", "equal", False),
    ("normal", "sjf_oracle", "none", "equal", False),
    ("normal", "las", "user", "equal", False),
    ("preemptible", "gpugrant", "user", "equal", True),
    ("preemptible", "gpugrant", "hour", "equal", True),
    ("preemptible", "gpugrant", "user", "proportional", True),
    ("preemptible", "las", "user", "equal", True),
]
USES_ESTIMATES = {"gpugrant", "fifo_backfill", "static_partition"}
USES_SHARES = {"gpugrant", "static_partition"}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def run_replay(trace: str, gpus: int, cycle_s: float, history=None) -> dict:
    jobs = load_trace(trace)
    out = {
        "trace": trace,
        "gpus": gpus,
        "cycle_s": cycle_s,
        "jobs": len(jobs),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "scenarios": [],
    }
    shares = {"equal": "equal", "proportional": resolve_shares("proportional", trace, history)}
    jcts = {}
    for label, policy, rule, share_rule, preemptible in SCENARIOS:
        result, jcts[label, policy, rule, share_rule] = run_policy(
            load_trace(trace),
            gpus,
            policy,
            runtime_estimate=rule,
            shares=shares[share_rule],
            preemptible=preemptible,
            cycle_s=cycle_s,
        )
        result["load_average_after"] = load_average()
        out["scenarios"].append(
            {"jobs": label, "policy": policy, "rule": rule, "shares": share_rule, "result": result}
        )
        print(
            f"{label:<12}{policy:<17}{rule:<5}{share_rule:<13} avg JCT {result['avg_jct_s'] / HOUR:6.2f} h  "
            f"Jain {result['jain_index']:.3f}  preemptions {result['preemptions']:>7}  {result['wall_s']:6.1f} s",
            flush=True,
        )
    for s in out["scenarios"]:  # against the tenants alone on static slices, same rule and shares
        alone = jcts.get(("normal", "static_partition", s["rule"], s["shares"]))
        if alone is not None:
            add_sharing_ratios(s["result"], jcts[s["jobs"], s["policy"], s["rule"], s["shares"]], alone)
    out["targets"] = replay_targets(out["scenarios"])
    return out


def _find(scenarios, jobs, policy, rule="user", shares="equal") -> dict:
    for s in scenarios:
        if (s["jobs"], s["policy"], s["rule"], s["shares"]) == (jobs, policy, rule, shares):
            return s["result"]
    raise KeyError((jobs, policy, rule, shares))


def replay_targets(scenarios) -> list[dict]:
    """The issues' targets, checked on the results (user rule and equal shares unless named): issue 15's
    (as in the weekly sweep), then the earlier ones."""
    product = _find(scenarios, "normal", "gpugrant")
    fifo = _find(scenarios, "normal", "fifo")
    pre = _find(scenarios, "preemptible", "gpugrant")
    las = _find(scenarios, "preemptible", "las")
    user = {
        p: _find(scenarios, "normal", p)
        for p in ("gpugrant", "fifo_backfill", "sjf_oracle", "static_partition", "las")
    }
    none = {p: _find(scenarios, "normal", p, rule="none") for p in ("gpugrant", "sjf_oracle")}
    targets = week_targets(user, none)
    checks = [
        ("avg JCT ≥ 2× better than strict FIFO", fifo["avg_jct_s"] / product["avg_jct_s"], ">=", 2.0),
        ("--preemptible: avg JCT ≤ LAS (ratio)", pre["avg_jct_s"] / las["avg_jct_s"], "<=", 1.0),
        ("--preemptible: preemptions < LAS's", pre["preemptions"], "<", las["preemptions"]),
        ("Jain's index, normal jobs", product["jain_index"], ">=", 0.9),
        ("Jain's index, --preemptible", pre["jain_index"], ">=", 0.9),
        ("every job completes (normal)", product["jobs_completed"], "==", product["jobs_total"]),
        ("every job completes (--preemptible)", pre["jobs_completed"], "==", pre["jobs_total"]),
    ]
    ops = {">=": float.__ge__, "<=": float.__le__, "<": float.__lt__, "==": float.__eq__}
    return targets + [
        {
            "target": name,
            "value": round(value, 3),
            "op": op,
            "bound": bound,
            "met": ops[op](float(value), float(bound)),
        }
        for name, value, op, bound in checks
    ]


BURST_PEER_CHOICES = ("auto", "slurm", "none")


def burst_peer_decision(choice: str) -> tuple[str | None, str | None]:
    """("slurm", None) to run the Slurm peer beside gpugrant, or (None, why it is not run)."""
    if choice == "none":
        return None, "not asked for (--burst-peer none)"
    try:
        import bench.slurm_peer  # noqa: F401
    except ImportError as exc:
        return None, f"bench.slurm_peer does not import here ({exc})"
    if choice == "auto" and hasattr(os, "geteuid") and os.geteuid() != 0:
        return None, "slurmctld/slurmd need root and this run is not root (--burst-peer slurm to try anyway)"
    return "slurm", None


def run_burst(out_dir: Path, runs: int, peer: str = "auto") -> dict:
    path = out_dir / "burst.json"
    command = [
        sys.executable, "-m", "bench.burst", "--scenario", "both",
        "--clients", "1000", "--submissions", "10000", "--organisations", "50",
        "--arrivals", "10000", "--arrival-window", "60", "--duration-limit", "300",
        "--runs", str(runs), "--json", str(path),
    ]  # fmt: skip
    peer_name, why_not = burst_peer_decision(peer)
    if peer_name:
        command += ["--peer", peer_name]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    report = json.loads(path.read_text())
    report["machine"] = machine()
    report["load_average_after"] = load_average()
    report["command"] = " ".join(["python", *command[1:-2]])
    if not peer_name:
        report["peer_not_run"] = why_not
    path.write_text(json.dumps(report, indent=2))
    return report


def run_placement(out_dir: Path, nodes: int, runs: int) -> dict:
    path = out_dir / "placement.json"
    command = [
        sys.executable, "-m", "bench.k8s_placement", "--nodes", str(nodes), "--runs", str(runs),
        "--json", str(path),
    ]  # fmt: skip
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    report = json.loads(path.read_text())
    report["machine"] = machine()
    report["date"] = time.strftime("%Y-%m-%d", time.gmtime())
    report["load_average_after"] = load_average()
    path.write_text(json.dumps(report, indent=2))
    return report


def placement_targets(summary: dict) -> list[tuple[str, float, str, float, bool]]:
    """The issue's targets: gpugrant's pods/s ≥ kube-scheduler's; ≥ 5× Kueue's admissions/s, read like for
    like (decisions committed; jobs with every pod bound) and in the strictest way (gpugrant's jobs fully
    placed against Kueue's bare admissions); no gang of gpugrant's half-placed."""
    gpugrant, scheduler, kueue = summary["gpugrant"], summary["kube-scheduler"], summary["kueue"]
    checks = [
        (
            "gpugrant pods/s ≥ kube-scheduler's (ratio)",
            gpugrant["median_pods_per_second"] / scheduler["median_pods_per_second"],
            1.0,
        ),
        (
            "gpugrant admissions/s ≥ 5× Kueue's (ratio; each: the decision committed, before any pod exists)",
            gpugrant["median_admissions_per_second"] / kueue["median_admissions_per_second"],
            5.0,
        ),
        (
            "gpugrant jobs fully placed/s ≥ 5× Kueue's (ratio; each: every pod bound)",
            gpugrant["median_jobs_per_second"] / kueue["median_jobs_per_second"],
            5.0,
        ),
        (
            "strictest: gpugrant jobs fully placed/s ≥ 5× Kueue's bare admissions/s (ratio)",
            gpugrant["median_jobs_per_second"] / kueue["median_admissions_per_second"],
            5.0,
        ),
    ]
    targets = [(name, value, ">=", bound, value >= bound) for name, value, bound in checks]
    half = gpugrant["max_half_placed_gangs"]
    targets.append(("no gpugrant gang half-placed (most in any run)", half, "==", 0, half == 0))
    return targets


def placement_table(data: dict) -> str:
    summary = data["summary"]
    lines = [
        f"Generated by `python -m bench.report --only placement` on {data['date']}: {data['nodes']} kwok nodes "
        f"× 8 GPUs ({data['gpus']} GPUs), {data['jobs']} jobs = {data['pods']} pods "
        f"({data['shapes']['single']} single-GPU, {data['shapes']['gang2']} 2-node and "
        f"{data['shapes']['gang4']} 4-node gangs of 8 GPUs per pod: exactly the cluster), "
        f"{summary['gpugrant']['runs']} runs of each, interleaved, medians; machine: {data['machine']}; "
        f"load average after: {data.get('load_average_after', 'unknown')}.",
        "",
        "| way | pods bound | jobs fully placed | runs with all placed | pods/s | jobs fully placed/s "
        "| s to last binding | admissions/s | s to last admission | gangs half-placed (most in a run) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in ("gpugrant", "kube-scheduler", "kueue"):
        m = summary[mode]
        name = f"**{mode}**" if mode == "gpugrant" else mode
        admissions = (
            f"{m['median_admissions_per_second']:g} | {m['median_seconds_to_last_admission']:g}"
            if "median_admissions_per_second" in m
            else "— | —"
        )
        lines.append(
            f"| {name} | {m['median_pods_placed']:g} / {m['pods']} | {m['median_jobs_placed']:g} / {data['jobs']} "
            f"| {m['runs_all_placed']} / {m['runs']} | {m['median_pods_per_second']:g} "
            f"| {m['median_jobs_per_second']:g} | {m['median_seconds_to_last_binding']:g} | {admissions} "
            f"| {m['max_half_placed_gangs']} |"
        )
    lines += [
        "",
        "CPU seconds per process during a run (median), the control plane's and the benchmark's own "
        "(the bench process runs gpugrant's cycle, every client and the watches):",
        "",
    ]
    processes = list(summary["gpugrant"]["median_cpu_seconds"])
    lines.append("| way | " + " | ".join(processes) + " |")
    lines.append("| --- |" + " --- |" * len(processes))
    for mode in ("gpugrant", "kube-scheduler", "kueue"):
        cpu = summary[mode]["median_cpu_seconds"]
        lines.append(f"| {mode} | " + " | ".join(f"{cpu.get(p, 0):g}" for p in processes) + " |")
    profiles = [r for r in data["runs"] if r["extra"].get("apiserver_profile_top_cum")]
    if profiles:
        lines += [
            "",
            "kube-apiserver's CPU profile over the first seconds of each way's first run (`go tool pprof -top "
            "-cum`; the first line says how busy it was, 100 % = one core; then the Kubernetes functions "
            "holding most of it):",
            "",
        ]
        for run in profiles:
            top = run["extra"]["apiserver_profile_top_cum"]
            lines.append(f"- {run['mode']}: {top[0]}; " + "; ".join(f"`{row}`" for row in top[1:6]))
    lines += ["", "Targets:", ""]
    lines += [
        f"- {'met' if met else '**MISSED**'}: {name}: {value:.3g} (target {op} {bound:g})"
        for name, value, op, bound, met in placement_targets(summary)
    ]
    return "\n".join(lines)


def dispatch_table(data: dict) -> str:
    """bench.federated_dispatch's JSON: placements per second across three real API servers, and split gangs."""
    m = data["summary"]
    per_second, split = m["median_pods_per_second"], m["max_split_gangs"]
    target = data["target_pods_per_second"]
    lines = [
        f"Generated by `python -m bench.report --only dispatch` on {data['date']} from `{data['command']}`: "
        f"{data['clusters']} control planes × {data['nodes_per_cluster']} kwok nodes × 8 GPUs "
        f"({data['gpus']} GPUs), {data['jobs']} jobs = {data['pods']} pods ({data['shapes']['single']} single-GPU, "
        f"{data['shapes']['gang2']} 2-node and {data['shapes']['gang4']} 4-node gangs: exactly the fleet), "
        f"{m['runs']} runs, medians; clients at {data['client_qps']} requests/s; machine: {data['machine']}; "
        f"load average after: {data.get('load_average_after', 'unknown')}.",
        "",
        "| run | pods bound | jobs fully placed | s to last binding | pods/s | jobs fully placed/s "
        "| pods per API server | split gangs | cycles |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for number, run in enumerate(data["runs"]):
        spread = ", ".join(f"{name} {count}" for name, count in run["pods_per_cluster"].items())
        lines.append(
            f"| {number + 1} | {run['placed']} / {run['pods']} | {run['jobs_placed']} / {data['jobs']} "
            f"| {run['seconds_to_last_binding']:g} | {run['pods_per_second']:g} | {run['jobs_per_second']:g} "
            f"| {spread} | {run['split_gangs']} | {run['cycles']} |"
        )
    lines += [
        "",
        "Targets:",
        "",
        f"- {'met' if per_second >= target else '**MISSED**'}: placements/s across the three API servers "
        f"≥ {target:g} (median): {per_second:g}",
        f"- {'met' if split == 0 else '**MISSED**'}: no gang split across API servers (most in any run): {split}",
    ]
    return "\n".join(lines)


def rounds_table(data: dict) -> str:
    """bench.round_proposal's JSON: one seeded round ranked and proposed by quotas.rounds."""
    met = data["median_seconds"] < 2.0
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(data["reasons"].items()))
    return "\n".join(
        [
            f"Generated by `python -m bench.report --only rounds` on {data['date']} from `{data['command']}`; "
            f"machine: {data['machine']}; load average after: {data['load_average_after']}.",
            "",
            "| applications | GPU-hours asked | in the pools | awarded | GPU-hours awarded | lines by reason "
            "| median s (rank + propose) | slowest s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {data['applications']} | {data['asked_gpu_hours']:,} | {data['pool_gpu_hours']:,} | {data['awarded']} "
            f"| {data['awarded_gpu_hours']:,} | {reasons} | {data['median_seconds']:g} | {data['max_seconds']:g} |",
            "",
            f"- {'met' if met else '**MISSED**'}: the proposal for {data['applications']} applications in under 2 s "
            f"(median of {data['repeat']}): {data['median_seconds']:g} s",
            *(
                [
                    f"- {'met' if data['service_median_seconds'] < 2.0 else '**MISSED**'}: the whole service "
                    f"(`quotas.round.round_propose` on PostgreSQL: reviews read, ranked, proposed, "
                    f"{data['service_lines']} lines written) for a round seeded by `seed_round` with "
                    f"{data['applications']} applications, under 2 s (median of {data['repeat']}): "
                    f"{data['service_median_seconds']:g} s (slowest {data['service_max_seconds']:g} s; "
                    f"{data['service_awarded']} proposed for award; seeding it took {data['seed_seconds']:g} s)"
                ]
                if "service_median_seconds" in data
                else []
            ),
        ]
    )


def _h(seconds: float) -> str:
    return f"{seconds / HOUR:.2f}"


def _rule_label(rule: str) -> str:
    return f"{rule} (oracle-derived)" if rule in ORACLE_DERIVED_RULES else rule


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _estimates(r: dict) -> str:
    e = r["estimates"]
    if e["median_error"] is None:
        return "—"
    return (
        f"{e['median_error']:.2f} / {e['p90_error']:.2f} / {e['inside_range']:.0%} ({e['jobs_estimated']:,})"
    )


def _verdict(t: dict) -> str:
    return {True: "met", False: "**MISSED**", None: "n/a"}[t["met"]]


def _target_line(t: dict) -> str:
    value = "—" if t["value"] is None else f"{t['value']:g}"
    return f"- {_verdict(t)}: {t['target']}: {value} (target {t['op']} {t['bound']:g})"


def replay_table(data: dict) -> str:
    cadence = f"one decision per {data['cycle_s']:g} s" if data["cycle_s"] else "one decision per event time"
    lines = [
        f"Generated by `python -m bench.report` on {data['date']}: {Path(data['trace']).name} "
        f"({data['jobs']} jobs) on {data['gpus']} GPUs (8 per node), {cadence}; "
        f"machine: {data['machine']}. Wall time is per policy and noisy (load average after each run given in "
        "the JSON). Times in hours. Max sharing ratio: the worst tenant's avg JCT ÷ its avg JCT alone on a "
        "static slice (same rule and shares). Estimated start: median / p90 of |first estimate − first start| "
        "÷ wait, share of starts inside the estimate's range (jobs estimated), over jobs that waited ≥ 5 min.",
        "",
        "| jobs | policy | max_runtime rule | shares | avg JCT | median JCT | avg queue | p95 queue | p99 queue "
        "| utilisation | makespan | Jain | preemptions | GPU-h lost | killed | never fit | max sharing ratio "
        "| estimated start | lower bound | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- | --- | --- |",
    ]
    for s in data["scenarios"]:
        r = s["result"]
        name = f"**{s['policy']}**" if s["policy"] == "gpugrant" else s["policy"]
        shares = s["shares"] if s["policy"] in USES_SHARES else "—"
        lines.append(
            f"| {s['jobs']} | {name} | {_rule_label(s['rule'])} | {shares} | {_h(r['avg_jct_s'])} "
            f"| {_h(r['median_jct_s'])} | {_h(r['avg_queue_s'])} | {_h(r['p95_queue_s'])} | {_h(r['p99_queue_s'])} "
            f"| {r['utilization']:.3f} | {r['makespan_s'] / HOUR:.1f} | {r['jain_index']:.3f} | {r['preemptions']:,} "
            f"| {r['gpu_hours_lost']:,.0f} | {r['jobs_killed']} | {r['jobs_never_fit']} "
            f"| {_ratio(r.get('max_sharing_ratio'))} | {_estimates(r)} | {_h(r['lower_bound_avg_jct_s'])} "
            f"| {r['wall_s']:.1f} |"
        )
    lines += ["", "Targets (user rule, equal shares):", ""]
    lines += [_target_line(t) for t in data["targets"]]
    product = _find(data["scenarios"], "normal", "gpugrant")
    alone = _find(data["scenarios"], "normal", "static_partition")
    pre = _find(data["scenarios"], "preemptible", "gpugrant")
    lines += [
        "",
        "Per tenant, gpugrant (user rule, equal shares): mean slowdown, p99 / max queueing delay (h), avg JCT "
        "(h) against static_partition's (each tenant alone on its slice) and their ratio:",
        "",
        "| tenant | jobs | slowdown (normal) | p99 queue | max queue | avg JCT | alone: avg JCT | sharing ratio "
        "| slowdown (--preemptible) | p99 queue | max queue |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for tenant, t in product["tenants"].items():
        a = alone["tenants"].get(tenant, {})
        p = pre["tenants"].get(tenant, {})
        lines.append(
            f"| {tenant} | {t['jobs']} | {t['avg_slowdown']:.2f} | {_h(t['p99_queue_s'])} | {_h(t['max_queue_s'])} "
            f"| {_h(t['avg_jct_s'])} | {_h(a.get('avg_jct_s', 0))} | {_ratio(t.get('sharing_ratio'))} "
            f"| {p.get('avg_slowdown', 0):.2f} | {_h(p.get('p99_queue_s', 0))} | {_h(p.get('max_queue_s', 0))} |"
        )
    return "\n".join(lines)


WEEK_POLICIES = (
    ("gpugrant", "user"),
    ("fifo_backfill", "user"),
    ("sjf_oracle", "user"),
    ("static_partition", "user"),
    ("las", "user"),
    ("gpugrant", "none"),
    ("sjf_oracle", "none"),
)


def weeks_table(data: dict) -> str:
    """The sweep's table (bench.replay_weeks JSON): one row per loaded week and size, targets met or not."""
    loaded = [w for w in data["weeks"] if w["selected"]]
    quiet = [f"{w['week']} at {w['gpus']}" for w in data["weeks"] if not w["selected"]]
    shorts = [t["short"] for t in loaded[0]["targets"]] if loaded else []
    source = f"the JSON of `{data['command']}`"
    if data.get("parts"):  # a sweep split over processes, then merged
        source = f"the JSON of {' and '.join(f'`{c}`' for c in data['parts'])} (run side by side), merged by `{data['command']}`"
    lines = [
        f"Generated by `python -m bench.report --only weeks` on {time.strftime('%Y-%m-%d', time.gmtime())} from "
        f"{source} ({data['date']}; machine: {data['machine']}). Weeks: "
        f"{data['calendar']}; replayed where strict FIFO's average queueing delay exceeds "
        f"{data['min_fifo_avg_queue_s'] / HOUR:g} h; {data['shares']} shares; avg JCT in hours, rule `user` "
        "unless marked `none`. Each target cell: gpugrant's value, met / **MISSED** / n/a.",
        "",
        "| week | GPUs | jobs | FIFO avg queue | "
        + " | ".join(f"{p} ({r})" if r == "none" else p for p, r in WEEK_POLICIES)
        + " | "
        + " | ".join(shorts)
        + " | wall s |",
        "| --- " * (5 + len(WEEK_POLICIES) + len(shorts)) + "|",
    ]
    for w in loaded:
        jct = [_h(w[r]["policies"][p]["avg_jct_s"]) for p, r in WEEK_POLICIES]
        cells = [("—" if t["value"] is None else f"{t['value']:g}") + f" {_verdict(t)}" for t in w["targets"]]
        lines.append(
            f"| {w['week']} | {w['gpus']} | {w['jobs']:,} | {_h(w['fifo_avg_queue_s'])} | "
            + " | ".join(jct + cells)
            + f" | {w['wall_s']:.0f} |"
        )
    lines += ["", "Targets over the loaded runs:", ""]
    for i in range(len(shorts)):
        verdicts = [w["targets"][i]["met"] for w in loaded]
        first = loaded[0]["targets"][i]
        lines.append(
            f"- {first['target']} (target {first['op']} {first['bound']:g}): met in "
            f"{verdicts.count(True)} of {len(verdicts) - verdicts.count(None)} runs where it applies"
        )
    if quiet:
        lines += ["", "Not replayed (FIFO waits little): " + ", ".join(quiet) + "."]
    return "\n".join(lines)


def weeks_compare_table(base: dict, tried: dict) -> str:
    """A Policy change tried over the whole sweep (bench.replay_weeks --gpugrant … --reuse BASE) against
    the sweep it reused: gpugrant's figures (with the GPU-hours preemption threw away: victims' runs and
    restarts) and every target, run by run, then the counts of runs met."""
    runs = {(w["week"], w["gpus"]): w for w in base["weeks"] if w["selected"]}
    pairs = [
        (runs[(w["week"], w["gpus"])], w)
        for w in tried["weeks"]
        if w["selected"] and (w["week"], w["gpus"]) in runs
    ]
    policy = tried.get("gpugrant_policy", "gpugrant")
    shorts = [t["short"] for t in pairs[0][0]["targets"]] if pairs else []
    source = " and ".join(f"`{c}`" for c in tried.get("parts") or [tried["command"]])
    lines = [
        f"Generated by `python -m bench.report --only weeks-compare` on {time.strftime('%Y-%m-%d', time.gmtime())} "
        f"from {source} ({tried['date']}; machine: {tried['machine']}): `{policy}` in gpugrant's place under "
        "both rules, every other policy's result reused from the sweep above (static_partition run again and "
        "checked equal). Each cell: the default → the change; targets met / **MISSED**.",
        "",
        "| week | GPUs | avg JCT (user) | avg JCT (none) | preemptions | GPU-h lost (user) | "
        + " | ".join(shorts)
        + " |",
        "| --- " * (6 + len(shorts)) + "|",
    ]
    for before, after in pairs:
        b, a = before["user"]["policies"]["gpugrant"], after["user"]["policies"]["gpugrant"]
        bn, an = before["none"]["policies"]["gpugrant"], after["none"]["policies"]["gpugrant"]
        cells = []
        for tb, ta in zip(before["targets"], after["targets"], strict=True):
            show = lambda t: "—" if t["value"] is None else f"{t['value']:g}"  # noqa: E731
            cells.append(f"{show(tb)} → {show(ta)} {_verdict(ta)}")
        lines.append(
            f"| {after['week']} | {after['gpus']} | {_h(b['avg_jct_s'])} → {_h(a['avg_jct_s'])} "
            f"| {_h(bn['avg_jct_s'])} → {_h(an['avg_jct_s'])} | {b['preemptions']:,} → {a['preemptions']:,} "
            f"| {b['gpu_hours_lost']:,.0f} → {a['gpu_hours_lost']:,.0f} | " + " | ".join(cells) + " |"
        )
    lines += ["", f"Runs meeting each target, default → `{policy}`:", ""]
    for i, short in enumerate(shorts):
        met_before = [before["targets"][i]["met"] for before, _ in pairs]
        met_after = [after["targets"][i]["met"] for _, after in pairs]
        applies = len(met_after) - met_after.count(None)
        lines.append(f"- {short}: {met_before.count(True)} → {met_after.count(True)} of {applies}")
    return "\n".join(lines)


ESTIMATE_TARGETS = (("median_error", "<=", 0.35), ("p90_error", "<=", 1.5), ("inside_range", ">=", 0.8))


def _estimate_cell(acc: dict, key: str, op: str, bound: float) -> tuple[str, bool | None]:
    value = acc[key]
    if value is None:
        return "—", None
    met = value <= bound if op == "<=" else value >= bound
    return f"{value:g}", met


# bench.estimate_sweep's comparisons: (report section, the way before, the product's way, in words)
ESTIMATE_COMPARISONS = {
    "estimator": ("estimate-sweep", "gpu_count", "nodes", "counting free GPUs → booking pods on nodes"),
    "calibration": (
        "estimate-calibration",
        "moved",
        "range_only",
        "the estimate moved by its band's median ratio → the plan's estimate kept, only its range widened",
    ),
}


def estimate_sweep_parts(out_dir: Path, compare: str) -> list[dict]:
    """The bench.estimate_sweep JSONs in ``out_dir`` that hold ``compare``: each says which comparison
    it holds (those from before ``--compare`` existed hold the estimator's)."""
    parts = [json.loads(path.read_text()) for path in sorted(out_dir.glob("estimate-*.json"))]
    return [part for part in parts if part.get("compare", "estimator") == compare]


def estimate_sweep_table(parts: list[dict], compare: str = "estimator") -> str:
    """bench.estimate_sweep JSONs (one or several processes' parts of one comparison): per loaded run,
    the estimated-start figures of the way before → the product's way, all jobs and whole-node pods apart."""
    section, before_key, after_key, words = ESTIMATE_COMPARISONS[compare]
    runs = sorted(
        (w for part in parts for w in part["weeks"] if w["selected"]), key=lambda w: (w["week"], w["gpus"])
    )
    commands = " and ".join(f"`{part['command']}`" for part in parts)
    lines = [
        f"Generated by `python -m bench.report --only {section}` on {time.strftime('%Y-%m-%d', time.gmtime())} "
        f"from {commands} ({parts[0]['date']}; machine: {machine()}): gpugrant, `user` rule, equal shares, "
        "each loaded run replayed twice with the same decisions (checked). Estimated start over jobs that "
        "waited ≥ 5 min: median and p90 of |first estimate − first start| ÷ wait, and the share of starts "
        f"inside the first range; each cell {words}, met / **MISSED** "
        "(targets ≤ 0.35, ≤ 1.5, ≥ 0.8). Pods of a whole node or more: 8 GPUs per pod and up.",
        "",
        "| week | GPUs | jobs waited | median error | p90 error | in range | whole-node pods waited "
        "| their median error | their share in range |",
        "| --- " * 9 + "|",
    ]
    met = {key: [0, 0] for key, _, _ in ESTIMATE_TARGETS}
    for run in runs:
        before, after = run[before_key], run[after_key]
        cells = []
        for key, op, bound in ESTIMATE_TARGETS:
            b, ok_before = _estimate_cell(before["all"], key, op, bound)
            a, ok = _estimate_cell(after["all"], key, op, bound)
            met[key][0] += bool(ok_before)
            met[key][1] += bool(ok)
            cells.append(f"{b} → {a} {'met' if ok else '**MISSED**' if ok is not None else 'n/a'}")
        wb, wa = before["whole_node_pods"], after["whole_node_pods"]
        whole = [
            f"{_estimate_cell(wb, key, op, bound)[0]} → {_estimate_cell(wa, key, op, bound)[0]}"
            for key, op, bound in (ESTIMATE_TARGETS[0], ESTIMATE_TARGETS[2])
        ]
        lines.append(
            f"| {run['week']} | {run['gpus']} | {after['all']['jobs_waited']} | "
            + " | ".join(cells)
            + f" | {wa['jobs_waited']} | "
            + " | ".join(whole)
            + " |"
        )
    lines += ["", f"Runs meeting each target, {words}:", ""]
    for key, op, bound in ESTIMATE_TARGETS:
        lines.append(
            f"- {key.replace('_', ' ')} ({op} {bound:g}): {met[key][0]} → {met[key][1]} of {len(runs)}"
        )
    return "\n".join(lines)


def federation_table(runs: list[dict]) -> str:
    """Issue 16's replay across clusters (bench.replay --clusters JSONs): gpugrant federated against
    pinned, one row pair per run, with the targets."""
    lines = [
        f"Generated by `python -m bench.report --only federation` on {time.strftime('%Y-%m-%d', time.gmtime())} "
        "from the JSON of `python -m bench.replay --clusters … --policy gpugrant --policy pinned`. Avg JCT "
        "and queueing in hours; utilisation = busy GPU-seconds ÷ the clusters' GPU-seconds over the "
        "submission window. `pinned`: each tenant assigned to one cluster before the window, balanced by "
        "its expected demand, FIFO + EASY inside it; gpugrant: one plan over every cluster, a gang inside "
        "one. Targets: pinned's avg JCT ≥ 1.5× gpugrant's, gpugrant's utilisation ≥ 10 points higher. "
        "Utilisation bound: the most any policy could reach inside the window without counting work lost to "
        "preemption (every job started at its submission, capped at 1); where it is less than 10 points above "
        "pinned's, the utilisation target cannot be met.",
        "",
        "| trace | GPUs | clusters | rule | pinned demand | policy | avg JCT | median JCT | avg queue | p99 queue | utilisation | utilisation bound | preemptions | JCT pinned ÷ gpugrant | utilisation points |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        fed = run.get("federation") or {}
        clusters = ", ".join(f"{name} {gpus}" for name, gpus in (run.get("clusters") or {}).items())
        for name in ("gpugrant", "pinned"):
            r = run["policies"][name]
            verdicts = ["", ""]
            if name == "gpugrant" and fed:
                verdicts = [
                    f"{fed['jct_pinned_over_gpugrant']:g} " + ("met" if fed["jct_met"] else "**MISSED**"),
                    f"{fed['utilisation_points']:+g} " + ("met" if fed["utilisation_met"] else "**MISSED**"),
                ]
            lines.append(
                f"| {Path(run['trace']).name} | {run['gpus']} | {clusters} | {run['runtime_estimate']} | "
                f"{run.get('pinned_demand') or '—'} | {name} | {_h(r['avg_jct_s'])} | {_h(r['median_jct_s'])} | "
                f"{_h(r['avg_queue_s'])} | {_h(r['p99_queue_s'])} | {r['utilization']:.3f} | "
                f"{_bound(r)} | {r['preemptions']:,} | " + " | ".join(verdicts) + " |"
            )
    return "\n".join(lines)


def _bound(r: dict) -> str:
    return f"{r['utilization_bound']:.3f}" if "utilization_bound" in r else "—"


def _s(value) -> str:
    """Seconds for the burst table: ms below 1 s."""
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _p99_all(value) -> str:
    return "beyond the run (> 1 % not accepted)" if value is None else _s(value)


def _tta(t: dict) -> str:
    return " / ".join(_s(t[p]) for p in ("p50", "p95", "p99", "max"))


def _load(run: dict) -> str:
    before, after = run.get("load_before") or [], run.get("load_after") or []
    return f"{before[0]:.1f} → {after[0]:.1f}" if before and after else "—"


def _burst_row(system: str, label: str, r: dict) -> str:
    check = r["check"]
    holds = "—" if check.get("budgets_with_wrong_holds") is None else check["budgets_with_wrong_holds"]
    overdrawn = "—" if check.get("budgets_overdrawn") is None else check["budgets_overdrawn"]
    duplicated = check["duplicated_in_db"] + check["jobs_without_a_201"]
    return (
        f"| {system} | {label} | {r['accepted']:,} / {r['submissions']:,} | {r['not_accepted']:,} "
        f"| {r['makespan_s']:.1f} | {r['accepted_per_s']:,.1f} | {_tta(r['time_to_acceptance_s'])} "
        f"| {_p99_all(r.get('time_to_acceptance_p99_all_s')) if r['not_accepted'] else 'same'} "
        f"| {r['attempts_per_submission']['mean']:.2f} / {r['attempts_per_submission']['max']} "
        f"| {r['shed_503']:,} | {r['throttled_429']:,} | {r['server_errors_5xx_other_than_503']} "
        f"| {r['connection_errors']} | {check['lost']} / {duplicated} | {holds} / {overdrawn} | {_load(r)} |"
    )


def _per_attempt(r: dict) -> str:
    lat = r["per_attempt_latency_ms"]
    statuses = {endpoint: len(counts) for endpoint, counts in r.get("status_counts", {}).items()}
    return "; ".join(
        f"{endpoint}: {v['p50']:g} / {v['p95']:g} / {v['p99']:g} (n={v['count']:,})"
        for endpoint, v in lat.items()
        # "GET /jobs → 200" repeats "GET /jobs" when every answer had that status
        if "settle" not in endpoint and not ("→" in endpoint and statuses.get(endpoint.split(" →")[0]) == 1)
    )


def burst_targets(data: dict) -> list[tuple[str, str]]:
    """(verdict, text) per target: met, **MISSED**, or "not checked" where the figure is missing."""
    summary = data.get("summary", {})
    gpugrant, slurm = summary.get("gpugrant", {}), summary.get("slurm", {})
    why = data.get("peer_not_run") or (
        "it failed (above)" if data.get("peer_errors") else "no Slurm figures in this JSON"
    )
    out: list[tuple[str, str]] = []

    def check(ok: bool) -> str:
        return "met" if ok else "**MISSED**"

    for scenario, name in (("closed", "closed loop"), ("open", "open loop")):
        g = gpugrant.get(scenario)
        if g is None:
            continue
        gm, s = g["median_over_runs"], slurm.get(scenario)
        g99 = gm["time_to_acceptance_p99_all_s"]
        if s is None:
            out.append(("not checked", f"{name}: accepted/s ≥ Slurm's — Slurm not run: {why}"))
            out.append(("not checked", f"{name}: p99 time-to-acceptance ≤ Slurm's — Slurm not run: {why}"))
        else:
            sm = s["median_over_runs"]
            s99 = sm["time_to_acceptance_p99_all_s"]
            out.append(
                (
                    check(gm["accepted_per_s"] >= sm["accepted_per_s"]),
                    f"{name}: accepted/s ≥ Slurm's (medians over runs): {gm['accepted_per_s']:,.1f} vs "
                    f"{sm['accepted_per_s']:,.1f}",
                )
            )
            ok = g99 is not None and (s99 is None or g99 <= s99)
            out.append(
                (
                    check(ok),
                    f"{name}: p99 time-to-acceptance ≤ Slurm's (medians over runs, every submission): "
                    f"{_s(g99) if g99 is not None else 'beyond the run'} vs "
                    f"{_s(s99) if s99 is not None else 'beyond the run'}",
                )
            )
        if scenario == "closed":
            out.append(
                (
                    check(gm["accepted_per_s"] >= 1000),
                    f"{name}: ≥ 1,000 accepted/s (median over runs): {gm['accepted_per_s']:,.1f}",
                )
            )
        else:
            out.append(
                (
                    check(g99 is not None and g99 < 5),
                    f"{name}: p99 time-to-acceptance < 5 s (median over runs, every submission): "
                    + (_s(g99) if g99 is not None else "beyond the run (> 1 % not accepted)"),
                )
            )
    for system, per in (("gpugrant", gpugrant), ("Slurm", slurm)):
        for scenario, g in per.items():
            w = g["worst_run"]
            bad = w["lost"] + w["duplicated"] + w["overdrawn"]
            out.append(
                (
                    check(bad == 0),
                    f"{system}, {scenario} loop: zero lost / duplicated / overdrawn in every run "
                    f"(worst run: {w['lost']} / {w['duplicated']} / {w['overdrawn']})",
                )
            )
            out.append(
                (
                    check(w["server_errors_5xx_other_than_503"] == 0),
                    f"{system}, {scenario} loop: no 5xx other than 503 in any run "
                    f"(worst run: {w['server_errors_5xx_other_than_503']})",
                )
            )
    return out


def burst_table(data: dict) -> str:
    c = data["config"]
    runs = data["runs"]
    n_runs = max((r["run"] for r in runs), default=0)
    peer = data.get("peer")
    lines = [f"**{data['note']}**", ""] if data.get("note") else []
    lines += [
        f"Table generated by `bench.report` on {data['date']}"
        + (f" from `{data['command']}`" if data.get("command") else "")
        + f": {n_runs} run(s); gunicorn {c['workers']} workers × {c['threads']} threads, "
        f"`GPUGRANT_SUBMIT_CONCURRENCY={c['submit_concurrency']}`, "
        f"`GPUGRANT_SUBMIT_QUEUE={c.get('submit_queue', 0)}` (each waiting up to "
        f"{c.get('submit_queue_wait_ms', 0)} ms), Retry-After {c['retry_after_s']} s; "
        f"machine: {data['machine']}; load average (1 min) before → after "
        f"each run in the last column; after everything: {data.get('load_average_after', 'unknown')}.",
        "",
        "Client rules: gpugrant — "
        + c["client_rules"]["gpugrant"]
        + ". Slurm — "
        + c["client_rules"]["slurm"]
        + ".",
        "",
    ]
    if peer:
        facts = ", ".join(f"{k}: {v}" for k, v in peer.items())
        lines += [f"Slurm peer (same machine, same run, after gpugrant's in each run): {facts}.", ""]
    elif not data.get("peer_errors"):
        why = data.get("peer_not_run") or "not asked for"
        lines += [
            f"**Slurm was not run** ({why}): no Slurm figures below, and the targets against it are "
            "not checked.",
            "",
        ]
    for error in data.get("peer_errors") or []:
        lines += [f"**Slurm failed** in run {error['run']}, {error['scenario']} loop: `{error['error']}`", ""]
    header = [
        "| system | run | accepted / submissions | not accepted | makespan s | accepted/s "
        "| time-to-acceptance p50 / p95 / p99 / max (accepted ones) | p99 over every submission "
        "| attempts per submission mean / max | 503 | 429 | other 5xx | connection errors "
        "| lost / duplicated | holds wrong / overdrawn | load before → after |",
        "| --- " * 16 + "|",
    ]
    titles = {
        "closed": (
            f"Closed loop: {c['clients']:,} clients, {c['submissions']:,} submissions in all, each client's next "
            "only after its last was accepted; on gpugrant's side every third client also reads its jobs "
            f"after an acceptance. The clients share {min(c['clients'], c['open_loop_connection_limit']):,} "
            "connections, handed out first come, first served (a request waiting for one is timed from "
            "before the wait)."
        ),
        "open": (
            f"Open loop: {c['arrivals']:,} users arriving over {c['arrival_window_s']:g} s "
            f"({c['arrival_process']}; {c['arrivals'] / c['arrival_window_s']:,.0f}/s offered, so accepted/s cannot "
            "exceed about that), each with its own API key submitting one job; at most "
            f"{c['open_loop_connection_limit']:,} connections open at once, handed out first come, first served "
            "(a request waiting for one is timed from before the wait). Time-to-acceptance counts from the "
            "scheduled arrival."
        ),
    }
    systems = [("gpugrant", "**gpugrant**")] + (
        [("slurm", "Slurm")] if any(r["target"] == "slurm" for r in runs) else []
    )
    for scenario in c["scenarios"]:
        lines += [titles[scenario], "", *header]
        for key, label in systems:
            rows = [r for r in runs if r["target"] == key and r["scenario"] == scenario]
            for r in rows:
                lines.append(_burst_row(label, str(r["run"]), r))
            m = data.get("summary", {}).get(key, {}).get(scenario)
            if m and len(rows) > 1:
                mm = m["median_over_runs"]
                lines.append(
                    f"| {label} | median over {m['runs']} runs | {mm['accepted']:,.0f} | {mm['not_accepted']:,.0f} "
                    f"| {mm['makespan_s']:.1f} | {mm['accepted_per_s']:,.1f} | {_tta(mm['time_to_acceptance_s'])} "
                    f"| {_p99_all(mm['time_to_acceptance_p99_all_s'])} | {mm['attempts_per_submission_mean']:.2f} / — "
                    f"| {mm['shed_503']:,.0f} | {mm['throttled_429']:,.0f} | — | — | — | — | — |"
                )
        lines += ["", "Per attempt (one HTTP request each, not a submission; ms p50 / p95 / p99):", ""]
        for key, label in systems:
            for r in (r for r in runs if r["target"] == key and r["scenario"] == scenario):
                lag = r.get("generator_lag_ms")
                behind = (
                    f"; the generator's lag behind the arrivals p99 / max: {lag['p99']:g} / {lag['max']:g}"
                    if lag
                    else ""
                )
                lines.append(f"- {label.strip('*')}, run {r['run']}: {_per_attempt(r)}{behind}")
        lines.append("")
    lines += ["Targets:", ""]
    lines += [f"- {verdict}: {text}" for verdict, text in burst_targets(data)]
    return "\n".join(lines)


SESSION_RESERVES = (0, 8, 16)  # GPUs held back for sessions in the replay of the default week at 256 GPUs


def session_reserve_command(path) -> list[str]:
    policies = [
        arg
        for reserve in SESSION_RESERVES
        for arg in (
            "--policy",
            "gpugrant" if reserve == 0 else f'gpugrant{{"session_reserve": [["gpu", {reserve}]]}}',
        )
    ]
    return [
        "-m",
        "bench.replay",
        "--trace",
        str(DEFAULT_TRACE),
        "--gpus",
        "256",
        *policies,
        "--json",
        str(path),
    ]


def session_reserve_table(data: dict) -> str:
    """bench.replay's JSON for gpugrant with 0, 8 and 16 GPUs held back for sessions (docs/sessions.md)."""
    rows = []
    base = None
    for name, p in data["policies"].items():
        reserve = 0 if name == "gpugrant" else json.loads(name[len("gpugrant") :])["session_reserve"][0][1]
        base = base or p
        rows.append(
            f"| {reserve} | {p['avg_jct_s'] / 3600:.2f} ({p['avg_jct_s'] / base['avg_jct_s']:.2f}×) "
            f"| {p['median_jct_s'] / 3600:.2f} | {p['avg_queue_s'] / 3600:.2f} | {p['p99_queue_s'] / 3600:.1f} "
            f"| {p['utilization']:.3f} | {p['jain_index']:.3f} | {p['max_sharing_ratio']:.2f} "
            f"| {p['preemptions']:,} |"
        )
    return "\n".join(
        [
            f"Generated by `python -m bench.report --only session-reserve` on {data['date']} from "
            f"`python {' '.join(data['command'])}`; machine: {data['machine']}; load average after: "
            f"{data['load_average_after']}.",
            "",
            "| GPUs held back | avg JCT h (÷ none) | median JCT h | avg queue h | p99 queue h | utilisation "
            "| Jain | max sharing ratio | preemptions |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )


SESSION_PHASES = (
    ("post_and_page", "the form's POST and the session's page"),
    ("to_gpus_claimed", "submitted → GPUs claimed (the cycle the launch triggers, through the broker)"),
    ("claimed_to_bind", "claimed → bind begins"),
    ("bind_to_command_started", "bind → JupyterLab's process started (sandbox, runner)"),
    ("command_started_to_listening", "process started → JupyterLab listens (its start-up)"),
    ("listening_to_lab_200", "listening → the lab page answers 200 (the page's looks and retries)"),
    ("claimed_to_state_running", "beside it: claimed → the job's state `running` (reconcile)"),
    ("state_running_to_seen_by_page", "beside it: `running` → seen by the page's poll"),
    ("lab_to_kernel_created", "lab page → kernel created"),
    ("kernel_created_to_answer", "kernel created → `print(1+1)` answered over the WebSocket"),
)


def session_start_table(data: dict) -> str:
    """bench.session_start's JSON: launches on the demo's service, click to lab page and to a kernel's answer."""
    variants = data["variants"]
    headline = variants[0]
    sandbox = "yes (bubblewrap)" if data["sandboxed"] else f"no ({data['unsandboxed_reason']})"

    def stat(v: dict, key: str, which: str) -> str:
        return f"{v[key][which]:.2f}" if key in v else "–"

    rows = [
        f"| every {v['poll_s']:g} s{' (the page)' if v['poll_s'] == 1 else ''} | {v['succeeded']} | {v['failed']} "
        f"| {v.get('waited_in_queue_launches', 0)} | {stat(v, 'lab_s', 'median')} | {stat(v, 'lab_s', 'p95')} "
        f"| {stat(v, 'usable_s', 'median')} | {stat(v, 'usable_s', 'p95')} | {stat(v, 'usable_s', 'max')} |"
        for v in variants
    ]
    phases = [
        f"| {label} | "
        + " | ".join(
            f"{v['phase_medians_s'][name]:.2f}" if name in v.get("phase_medians_s", {}) else "–"
            for v in variants
        )
        + " |"
        for name, label in SESSION_PHASES
    ]
    warm = data.get("warmup", {})
    met = "usable_s" in headline and headline["usable_s"]["median"] <= 5.0
    value = (
        f"{headline['usable_s']['median']:.2f} s (p95 {headline['usable_s']['p95']:.2f} s) over the "
        f"{headline['succeeded']} launches that succeeded"
        if "usable_s" in headline
        else "no launch succeeded"
    )
    launches = sum(v["launches"] for v in variants)
    failed = sum(v["failed"] for v in variants)
    waited = sum(v.get("waited_in_queue_launches", 0) for v in variants)
    stop_errors = sum(v.get("stop_errors", 0) for v in variants)
    clean = not (failed or waited or stop_errors)
    return "\n".join(
        [
            f"Generated by `python -m bench.report --only session-start` on {data['date']} from "
            f"`{data['command']}`; machine: {data['machine']}; load average after: {data['load_average_after']}; "
            f"sessions sandboxed: {sandbox}. Median: the mean of the two middle launches; p95: nearest rank.",
            "",
            "| the page polls | launches | failed | waited in the queue | click → lab page: median s | p95 s "
            "| click → kernel answers: median s | p95 s | slowest s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            "| phase (median s, each from the one before) | "
            + " | ".join(f"poll {v['poll_s']:g} s" for v in variants)
            + " |",
            "| --- |" + " --- |" * len(variants),
            *phases,
            "",
            *(
                [
                    f"The first launch after the service started (not counted): lab page {warm['lab_s']['median']:.2f} s, "
                    f"kernel answers {warm['usable_s']['median']:.2f} s. The service was ready "
                    f"{data['service_ready_s']:g} s after the bench began (migrate, seed, worker, server).",
                    "",
                ]
                if "usable_s" in warm
                else []
            ),
            f"- {'met' if met else '**MISSED**'}: median click to a usable notebook ≤ 5 s (KubeSpawner: 2–5 s per "
            f"pod with images pulled), the page polling every {headline['poll_s']:g} s: {value}",
            f"- {'met' if clean else '**MISSED**'}: every launch usable, none waiting in the queue, every stop "
            f"answered: {failed} of {launches} launches failed, {waited} waited, {stop_errors} Stop forms "
            "answered an error",
            *(
                f"- failed: {failure['error']} (polling every {failure['poll_s']:g} s; the portal logged: "
                f"`{failure.get('server_error') or 'nothing'}`)"
                for failure in data.get("failures", [])
            ),
            *(
                f"- the Stop form answered an error (not its redirect) after {v['stop_errors']} of the "
                f"{v['succeeded']} launches polling every {v['poll_s']:g} s; each session still ended"
                for v in variants
                if v.get("stop_errors")
            ),
        ]
    )


def rewrite_section(doc: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(doc):
        return pattern.sub(lambda _: block, doc)
    return doc.rstrip("\n") + f"\n\n{block}\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=(
            "replay",
            "burst",
            "placement",
            "weeks",
            "weeks-compare",
            "session-reserve",
            "federation",
            "dispatch",
            "rounds",
            "session-start",
            "estimate-sweep",
            "estimate-calibration",
        ),
    )
    parser.add_argument("--trace", default=str(DEFAULT_TRACE))
    parser.add_argument("--gpus", type=int, default=512)
    parser.add_argument(
        "--history", help="for proportional shares (default: philly_jobs_full.csv beside --trace)"
    )
    parser.add_argument("--weeks-json", help="a bench.replay_weeks JSON (default: weeks.json in --out)")
    parser.add_argument(
        "--weeks-section",
        default="weeks",
        help="with --only weeks: the docs' marker to write (bench:NAME), to keep an earlier sweep's table",
    )
    parser.add_argument(
        "--compare-json",
        help="with --only weeks-compare: a sweep run with --gpugrant … --reuse (the weeks JSON)",
    )
    parser.add_argument(
        "--compare-section",
        default="weeks-compare",
        help="with --only weeks-compare: the docs' marker to write (bench:NAME), one per change compared",
    )
    parser.add_argument(
        "--federation-json",
        action="append",
        help="bench.replay --clusters JSONs (default: federation-*.json in --out)",
    )
    parser.add_argument("--cycle-s", type=float, default=0.0)
    parser.add_argument("--burst-runs", type=int, default=3)
    parser.add_argument(
        "--burst-peer",
        choices=BURST_PEER_CHOICES,
        default="auto",
        help="the Slurm peer beside gpugrant in the burst (auto: when bench.slurm_peer imports and as root)",
    )
    parser.add_argument("--placement-nodes", type=int, default=500)
    parser.add_argument("--placement-runs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    parser.add_argument("--no-docs", action="store_true", help="write JSON only")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = DOC.read_text()
    failed = False
    if args.only in (None, "replay"):
        if not Path(args.trace).exists():
            print(f"trace not found: {args.trace}", file=sys.stderr)
            return 1
        data = run_replay(args.trace, args.gpus, args.cycle_s, history=args.history)
        (out_dir / "replay.json").write_text(json.dumps(data, indent=2))
        doc = rewrite_section(doc, "replay", replay_table(data))
    if args.only == "weeks":  # never run by default: the sweep takes hours (bench.replay_weeks)
        weeks = json.loads(Path(args.weeks_json or out_dir / "weeks.json").read_text())
        doc = rewrite_section(doc, args.weeks_section, weeks_table(weeks))
    if args.only == "weeks-compare":
        base = json.loads(Path(args.weeks_json or out_dir / "weeks.json").read_text())
        tried = json.loads(Path(args.compare_json).read_text())
        doc = rewrite_section(doc, args.compare_section, weeks_compare_table(base, tried))
    for compare, (section, *_) in ESTIMATE_COMPARISONS.items():
        if args.only == section:  # from a sweep run by hand (bench.estimate_sweep; about an hour)
            doc = rewrite_section(
                doc, section, estimate_sweep_table(estimate_sweep_parts(out_dir, compare), compare)
            )
    if args.only == "federation":  # from replays run by hand (bench.replay --clusters)
        paths = args.federation_json or sorted(str(p) for p in out_dir.glob("federation-*.json"))
        runs = [json.loads(Path(path).read_text()) for path in paths]
        doc = rewrite_section(doc, "federation", federation_table(runs))
    if args.only == "dispatch":  # from a run by hand (bench.federated_dispatch: three control planes)
        path = out_dir / "dispatch.json"
        data = json.loads(path.read_text())
        data.setdefault("machine", machine())
        data.setdefault("date", time.strftime("%Y-%m-%d", time.gmtime()))
        data.setdefault("load_average_after", load_average())
        path.write_text(json.dumps(data, indent=2))
        doc = rewrite_section(doc, "dispatch", dispatch_table(data))
    if args.only in (None, "session-reserve"):
        path = out_dir / "session-reserve.json"
        command = session_reserve_command(path)
        print("$", " ".join(command), flush=True)
        subprocess.run([sys.executable, *command], check=True, cwd=ROOT)
        data = json.loads(path.read_text())
        data |= {
            "command": [part.replace(f"{ROOT}/", "").replace(str(ROOT.parent), "..") for part in command],
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "load_average_after": load_average(),
        }
        path.write_text(json.dumps(data, indent=2))
        doc = rewrite_section(doc, "session-reserve", session_reserve_table(data))
    if args.only in (None, "rounds"):
        path = out_dir / "rounds.json"
        command = [sys.executable, "-m", "bench.round_proposal", "--applications", "500", "--json", str(path)]
        database = os.environ.get("DATABASE_URL", "")
        if database.startswith("postgres"):
            command += ["--database", database]
        print("$", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True, cwd=ROOT)
        data = json.loads(path.read_text())
        data |= {
            "command": "python -m bench.round_proposal --applications 500"
            + (" --database $DATABASE_URL" if database.startswith("postgres") else ""),
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "load_average_after": load_average(),
        }
        path.write_text(json.dumps(data, indent=2))
        doc = rewrite_section(doc, "rounds", rounds_table(data))
    if args.only == "session-start":  # not by default: about four minutes (two polling intervals)
        path = out_dir / "session-start.json"
        command = [
            "-m",
            "bench.session_start",
            "--launches",
            "20",
            "--poll-s",
            "1",
            "0.1",
            "--json",
            str(path),
        ]
        print("$ python", " ".join(command), flush=True)
        path.unlink(missing_ok=True)
        returncode = subprocess.run([sys.executable, *command], cwd=ROOT).returncode
        if not path.exists():
            print(f"bench.session_start wrote no results (exit {returncode})", file=sys.stderr)
            return 1
        data = json.loads(path.read_text())
        failed = returncode != 0  # failed launches: the table says so, and so does the exit code
        doc = rewrite_section(doc, "session-start", session_start_table(data))
    if args.only in (None, "burst"):
        doc = rewrite_section(doc, "burst", burst_table(run_burst(out_dir, args.burst_runs, args.burst_peer)))
    if args.only in (None, "placement"):
        data = run_placement(out_dir, args.placement_nodes, args.placement_runs)
        doc = rewrite_section(doc, "placement", placement_table(data))
    if not args.no_docs:
        DOC.write_text(doc)
        print(f"updated {DOC.relative_to(ROOT)}; JSON in {out_dir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
