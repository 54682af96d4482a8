"""bench.report: runs every replay scenario, checks the targets from the results, rewrites only its
own block of the benchmarks doc. Tiny hand-made traces; never timings."""

import csv
from datetime import datetime, timedelta

from bench.replay_weeks import replay_week
from bench.report import SCENARIOS, burst_table, replay_table, rewrite_section, run_replay, weeks_table


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
