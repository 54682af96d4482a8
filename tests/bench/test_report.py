"""bench.report: runs every replay scenario, checks the targets from the results, rewrites only its
own block of the benchmarks doc. Tiny hand-made traces; never timings."""

import csv
from datetime import datetime, timedelta

from bench.replay_weeks import replay_week
from bench.report import (
    SCENARIOS,
    burst_table,
    replay_table,
    rewrite_section,
    run_replay,
    session_start_table,
    weeks_compare_table,
    weeks_table,
)


def write_trace(path, rows):
    """Rows (job_id, vc, submit_s, num_gpus, duration_s); submit_time counts from 2017-10-23 00:00."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["job_id", "vc", "submit_time", "submit_s", "num_gpus", "duration_s"])
        for job_id, vc, submit_s, gpus, duration_s in rows:
            when = START + timedelta(seconds=submit_s)
            writer.writerow([job_id, vc, when.isoformat(sep=" "), submit_s, gpus, duration_s])
    return str(path)


START = datetime(2017, 10, 23)


def test_it_runs_every_scenario_and_checks_the_targets_from_the_results(tmp_path):
    # two tenants; a long 8-GPU job first, then short ones: FIFO makes the short ones wait behind it
    rows = [(0, "a", 0, 8, 36000)] + [(i, "b", 10 + i, 1, 60) for i in range(1, 9)] + [(9, "a", 20, 8, 600)]
    history = write_trace(tmp_path / "history.csv", [(0, "a", -86400, 8, 3600), (1, "b", -86400, 1, 3600)])
    data = run_replay(write_trace(tmp_path / "t.csv", rows), 16, cycle_s=0, history=history)
    assert len(data["scenarios"]) == len(SCENARIOS)
    assert all(s["result"]["jobs_completed"] == len(rows) for s in data["scenarios"])
    targets = {t["target"]: t for t in data["targets"]}
    fifo_ratio = targets["avg JCT ≥ 2× better than strict FIFO"]
    product = next(s for s in data["scenarios"] if s["policy"] == "gpugrant")["result"]
    fifo = next(s for s in data["scenarios"] if s["policy"] == "fifo")["result"]
    assert fifo_ratio["value"] == round(fifo["avg_jct_s"] / product["avg_jct_s"], 3)
    assert fifo_ratio["met"] == (fifo_ratio["value"] >= 2.0)
    assert "max sharing ratio (a tenant's avg JCT ÷ alone on its static slice)" in targets
    assert product["max_sharing_ratio"] == max(t["sharing_ratio"] for t in product["tenants"].values())
    table = replay_table(data)
    assert table.count("| normal |") == sum(1 for s in SCENARIOS if s[0] == "normal")
    assert "hour (oracle-derived)" in table and "| user |" in table
    assert "| a | 2 |" in table and "| b | 8 |" in table  # per-tenant rows


def test_the_weeks_table_reads_the_sweep_json(tmp_path):
    rows = [
        {"job_id": str(i), "vc": "ab"[i % 2], "submit_s": str(i), "num_gpus": "8", "duration_s": "7200"}
        for i in range(6)
    ]
    run = replay_week(rows, 16, min_fifo_queue_s=0, log=lambda _: None)
    assert run["selected"] and {"user", "none", "targets"} <= run.keys()
    data = {
        "command": "python -m bench.replay_weeks --gpus 16",
        "date": "2026-11-28",
        "machine": "m",
        "calendar": "Monday to Monday",
        "min_fifo_avg_queue_s": 3600.0,
        "shares": "equal",
        "weeks": [{**run, "week": "2017-10-23"}, {"week": "2017-10-30", "gpus": 16, "selected": False}],
    }
    table = weeks_table(data)
    assert "| 2017-10-23 | 16 | 6 |" in table
    assert "Not replayed (FIFO waits little): 2017-10-30 at 16." in table
    assert table.count(" met") + table.count("MISSED") + table.count("n/a") >= len(run["targets"])


def test_the_weeks_compare_table_shows_the_gpu_hours_preemption_threw_away():
    # a runs two 20-h whole-node jobs on both nodes, beyond its share of 8; b's job arrives 3 h later,
    # within its share: the product preempts one of a's (3 h of 8 GPUs lost), unless a long run is spared
    rows = [
        {"job_id": str(i), "vc": vc, "submit_s": str(at), "num_gpus": "8", "duration_s": str(dur)}
        for i, (vc, at, dur) in enumerate([("a", 0, 72000), ("a", 1, 72000), ("b", 10800, 3600)])
    ]
    spare = 'gpugrant{"preemption_max_run_s": 3600}'
    runs = {
        name: {
            **replay_week(rows, 16, min_fifo_queue_s=0, log=lambda _: None, gpugrant=name),
            "week": "2017-10-23",
        }
        for name in ("gpugrant", spare)
    }
    lost = {name: run["user"]["policies"]["gpugrant"]["gpu_hours_lost"] for name, run in runs.items()}
    assert lost[spare] == 0 and lost["gpugrant"] >= 8 * 3  # the victim's 3 h on 8 GPUs, and its restart
    tried = {
        "weeks": [runs[spare]],
        "command": "c",
        "date": "2026-12-07",
        "machine": "m",
        "gpugrant_policy": spare,
    }
    table = weeks_compare_table({"weeks": [runs["gpugrant"]]}, tried)
    assert "| GPU-h lost (user) |" in table
    assert f"| {lost['gpugrant']:,.0f} → 0 |" in table


def test_it_rewrites_only_its_own_block():
    doc = "# Benchmarks\n\nprose\n<!-- bench:replay -->\nold table\n<!-- /bench:replay -->\nmore prose\n"
    new = rewrite_section(doc, "replay", "new table")
    assert (
        new == "# Benchmarks\n\nprose\n<!-- bench:replay -->\nnew table\n<!-- /bench:replay -->\nmore prose\n"
    )
    appended = rewrite_section(new, "burst", "burst table")
    assert appended.startswith(new.rstrip("\n")) and appended.endswith(
        "<!-- bench:burst -->\nburst table\n<!-- /bench:burst -->\n"
    )


def _burst_run(target, scenario, run, per_s, p99, not_accepted=0, lost=0, five_xx=0):
    return {
        "target": target,
        "scenario": scenario,
        "run": run,
        "load_before": [1.0, 1.0, 1.0],
        "load_after": [2.0, 1.0, 1.0],
        "submissions": 100,
        "accepted": 100 - not_accepted,
        "not_accepted": not_accepted,
        "makespan_s": 10.0,
        "accepted_per_s": per_s,
        "time_to_acceptance_s": {"count": 100, "p50": 0.05, "p95": 1.0, "p99": p99, "max": p99 + 1},
        "time_to_acceptance_p99_all_s": None if not_accepted > 1 else p99,
        "attempts_per_submission": {"mean": 1.5, "max": 4},
        "per_attempt_latency_ms": {
            "POST submit → 201": {"count": 100, "p50": 10, "p95": 20, "p99": 30, "max": 40}
        },
        "status_counts": {"POST submit": {"201": 100, "503": 50}},
        "shed_503": 50,
        "throttled_429": 0,
        "server_errors_5xx_other_than_503": five_xx,
        "connection_errors": 0,
        "check": {
            "lost": lost,
            "duplicated_in_db": 0,
            "jobs_without_a_201": 0,
            "budgets_with_wrong_holds": 0 if target == "gpugrant" else None,
            "budgets_overdrawn": 0 if target == "gpugrant" else None,
        },
    }


def _burst_data(runs, peer=None):
    import types

    from bench.burst import summarise

    args = types.SimpleNamespace(
        clients=10, submissions=100, arrivals=100, arrival_window=10.0, seed=1, connection_limit=1000,
        organisations=2, duration_limit=60.0, workers=1, threads=1, org_rate=None, submit_concurrency=2,
        retry_after=5, submit_queue=6, submit_queue_wait_ms=1000, retry_jitter=0.0, error_backoff=1.0, peer_backoff=1.0, peer=peer,
    )  # fmt: skip
    return summarise(args, ["closed", "open"], runs, {"version": "23.11"} if peer else None)


def test_the_burst_table_is_per_run_and_marks_missed_targets_without_a_peer():
    runs = [
        _burst_run("gpugrant", "closed", 1, 45.0, 30.0),
        _burst_run("gpugrant", "open", 1, 9.0, 6.0, not_accepted=5),
        _burst_run("gpugrant", "closed", 2, 55.0, 20.0),
        _burst_run("gpugrant", "open", 2, 9.5, 4.0),
    ]
    data = _burst_data(runs) | {"peer_not_run": "bench.slurm_peer does not import here"}
    table = burst_table(data)
    assert "**Slurm was not run** (bench.slurm_peer does not import here)" in table
    assert "| **gpugrant** | 1 | 100 / 100 | 0 |" in table and "| **gpugrant** | 2 |" in table
    assert "median over 2 runs" in table
    assert "**MISSED**: closed loop: ≥ 1,000 accepted/s (median over runs): 50.0" in table
    # one run had 5 % not accepted: its p99 over every submission is beyond the run, and so is the median
    assert "**MISSED**: open loop: p99 time-to-acceptance < 5 s" in table
    assert "not checked: closed loop: accepted/s ≥ Slurm's — Slurm not run" in table
    assert "met: gpugrant, closed loop: zero lost / duplicated / overdrawn in every run" in table
    assert "| Slurm |" not in table  # no fake numbers where the peer did not run
    assert "Per attempt (one HTTP request each, not a submission" in table


def test_the_burst_table_compares_with_the_peer():
    runs = [
        _burst_run("gpugrant", "closed", 1, 120.0, 3.0),
        _burst_run("gpugrant", "open", 1, 160.0, 2.0),
        _burst_run("slurm", "closed", 1, 100.0, 4.0),
        _burst_run("slurm", "open", 1, 166.0, 1.0, lost=1),
    ]
    table = burst_table(_burst_data(runs, peer="slurm"))
    assert "| Slurm | 1 |" in table
    assert "met: closed loop: accepted/s ≥ Slurm's (medians over runs): 120.0 vs 100.0" in table
    assert "met: closed loop: p99 time-to-acceptance ≤ Slurm's" in table
    assert "**MISSED**: open loop: accepted/s ≥ Slurm's (medians over runs): 160.0 vs 166.0" in table
    assert "**MISSED**: open loop: p99 time-to-acceptance ≤ Slurm's" in table
    assert (
        "met: open loop: p99 time-to-acceptance < 5 s (median over runs, every submission): 2.00 s" in table
    )
    assert "**MISSED**: Slurm, open loop: zero lost / duplicated / overdrawn in every run" in table


def test_burst_figures_count_every_wait_and_every_submission():
    from bench.burst import Submission, arrival_offsets, figures

    start = 100.0
    first = Submission(0, 0, start)
    first.attempts = [("503", 0.01), ("503", 0.02), ("201", 0.05)]
    first.waits["retry_after"] = 10.0
    first.accepted_at, first.ident = start + 10.08, "a"
    second = Submission(1, 1, start + 1)
    second.attempts = [("201", 0.04)]
    second.accepted_at, second.ident = start + 1.04, "b"
    never = Submission(2, 2, start + 2)
    never.attempts = [("503", 0.01)] * 3
    result = {
        "subs": [first, second, never],
        "start": start,
        "wall_s": 20.0,
        "latencies": {"POST submit": [0.01, 0.02, 0.05, 0.04, 0.01, 0.01, 0.01]},
        "statuses": {"POST submit": {"201": 2, "503": 5}},
    }
    out = figures("closed", result, submissions=4)
    assert out["accepted"] == 2 and out["not_accepted"] == 2
    assert out["not_accepted_detail"]["never_started"] == 1
    assert out["not_accepted_detail"]["still_retrying_at_deadline"] == 1
    # the Retry-After wait is in the submission's time, not in any attempt's
    assert out["time_to_acceptance_s"]["max"] == 10.08
    assert out["time_to_acceptance_s"]["max"] * 1000 > out["per_attempt_latency_ms"]["POST submit"]["max"]
    assert out["makespan_s"] == 10.08 and out["accepted_per_s"] == round(2 / 10.08, 1)
    assert out["time_to_acceptance_p99_all_s"] is None  # half were never accepted
    assert out["attempts_per_submission"] == {"mean": 2.33, "max": 3}
    assert out["shed_503"] == 5 and out["server_errors_5xx_other_than_503"] == 0
    offsets = arrival_offsets(2000, 20.0, seed=1)
    assert offsets == arrival_offsets(2000, 20.0, seed=1) and offsets == sorted(offsets)
    assert 18 < offsets[-1] < 22  # about the window: Poisson, not squeezed into it


def _launch(usable_s, waited=False):
    return {
        "page_s": 0.1,
        "server_submitted_s": 0.05,
        "server_scheduled_s": 0.5,
        "server_bound_s": 0.6,
        "server_command_started_s": 0.7,
        "server_listening_s": 2.5,
        "server_running_s": 1.5,
        "seen_running_s": 2.0,
        "lab_s": usable_s - 0.5,
        "kernel_created_s": usable_s - 0.4,
        "usable_s": usable_s,
        "waited_in_queue": waited,
        "page_reloads": 0,
    }


def test_the_session_start_table_checks_the_median_and_counts_failures_and_waits():
    from bench.session_start import nearest_rank, summary

    assert nearest_rank(list(range(1, 21)), 0.95) == 19  # the ceil(0.95 n)-th smallest
    assert nearest_rank([3.0], 0.95) == 3.0
    fast = summary(
        [_launch(s) for s in (3.0, 4.0, 5.0, 4.5)] + [_launch(4.0, waited=True) | {"stop_status": 500}]
    )
    slow = summary([_launch(6.0), _launch(7.0), {"poll_s": 0.1, "error": "not running in time"}])
    assert fast["usable_s"]["median"] == 4.0 and fast["waited_in_queue_launches"] == 1
    assert fast["phase_medians_s"]["command_started_to_listening"] == 1.8
    assert slow["failed"] == 1 and slow["succeeded"] == 2
    common = {
        "warmup": {},
        "sandboxed": True,
        "unsandboxed_reason": None,
        "machine": "m",
        "date": "2026-12-07",
        "load_average_after": "1.0 / 1.0 / 1.0",
        "command": "python -m bench.session_start",
        "service_ready_s": 20,
    }
    table = session_start_table({**common, "variants": [{"poll_s": 1.0, **fast}, {"poll_s": 0.1, **slow}]})
    assert "- met: median click to a usable notebook ≤ 5 s" in table
    assert "| every 1 s (the page) | 5 | 0 | 1 | 3.50 |" in table
    assert "| every 0.1 s | 2 | 1 |" in table
    assert (
        "the Stop form answered an error (not its redirect) after 1 of the 5 launches polling every 1 s"
        in table
    )
    table = session_start_table({**common, "variants": [{"poll_s": 1.0, **slow}]})
    assert "- **MISSED**: median click to a usable notebook ≤ 5 s" in table
    assert (
        "- **MISSED**: every launch usable, none waiting in the queue, every stop answered: 1 of 3" in table
    )
