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


def test_the_burst_table_marks_missed_targets():
    data = {
        "scenario": {"submissions": 100, "clients": 10, "organisations": 2, "workers": 1, "threads": 1},
        "machine": "m",
        "date": "2026-11-28",
        "runs": [{}, {}, {}],
        "median_accepted": 90,
        "median_accepted_per_s": 45.0,
        "median_latency_ms": {
            "POST /jobs": {"p50": 10, "p95": 20, "p99": 300},
            "POST /jobs → 201": {"p50": 10, "p95": 20, "p99": 200},
        },
        "shed_503": 5,
        "throttled_429": 0,
        "server_errors_5xx_other_than_503": 0,
        "lost": 0,
        "duplicated": 0,
        "holds_wrong": 0,
        "overdrawn": 0,
    }
    table = burst_table(data)
    assert "≥ 1,000 accepted/s: **MISSED** (45.0)" in table
    assert "p99 < 250 ms (POST /jobs): **MISSED** (300 ms)" in table
    assert "p99 < 250 ms (POST /jobs → 201): met (200 ms)" in table
    assert "zero lost / duplicated: met" in table


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
