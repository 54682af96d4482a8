"""Trace replay, issue 15: runtime-estimate rules, the kill at max_runtime, static_partition, shares from
history only, sharing ratios, first-estimate accuracy, the weekly sweep's calendar. Small hand-made
traces, known answers; never timings."""

import math
import re
from datetime import datetime
from pathlib import Path

import pytest

from bench.policies import Fifo, largest_remainder_nodes, make
from bench.replay_weeks import full_weeks, week_targets
from bench.shares import history_gpu_hours, resolve_shares, tenant_weights
from bench.sim import (
    DAY,
    HOUR,
    MAX_RUNTIME_S,
    USER_MODAL_S,
    Job,
    Sim,
    estimate_accuracy,
    metrics,
    rule_none,
    rule_user,
    sharing_ratios,
)
from scheduler.core.calibration import WaitCalibration

ROOT = Path(__file__).parents[2]


# -- runtime-estimate rules -------------------------------------------------------------------------
def test_the_cap_is_the_products_max_runtime_setting():
    settings = (ROOT / "portal" / "settings.py").read_text()
    default = re.search(
        r'GPUGRANT_MAX_RUNTIME_MINUTES = env_int\("GPUGRANT_MAX_RUNTIME_MINUTES", ([^)]*)\)', settings
    )
    minutes = math.prod(int(factor) for factor in default.group(1).split("*"))  # "7 * 24 * 60"
    assert MAX_RUNTIME_S == minutes * 60


def test_user_estimates_are_deterministic_modal_and_never_below_the_duration():
    durations = [1, 59, 900, 901, 3600, 5000, 4 * HOUR, 30 * HOUR, 3 * DAY, 6.9 * DAY]
    for i in range(400):
        duration = durations[i % len(durations)]
        estimate = rule_user(duration, str(i))
        assert estimate == rule_user(duration, str(i))  # seeded by the job id alone
        assert estimate >= duration
        assert estimate in USER_MODAL_S


def test_user_estimates_overestimate_widely_and_some_ask_for_the_maximum():
    estimates = [rule_user(600, str(i)) for i in range(2000)]
    at_max = sum(e == MAX_RUNTIME_S for e in estimates) / len(estimates)
    assert 0.10 <= at_max <= 0.20
    assert len(set(estimates)) >= 4  # a spread of round values, not one
    assert sorted(estimates)[len(estimates) // 2] >= 1800  # the median job asks ≥ 3× its 10 minutes


def test_user_estimates_are_the_same_under_every_policy():
    def max_runtimes(policy):
        jobs = [Job(str(i), "a", i, 1, 100 + 37 * i) for i in range(20)]
        sim = Sim(jobs, 8, runtime_rule="user")
        sim.run(make(policy))
        return [j.max_runtime_s for j in jobs]

    assert max_runtimes("fifo") == max_runtimes("gpugrant") == max_runtimes("sjf_oracle")


def test_jobs_longer_than_the_cap_ask_for_whole_days_under_user_and_the_cap_under_none():
    assert rule_user(8.5 * DAY, "x") == 9 * DAY
    assert rule_none(60) == rule_none(30 * DAY) == MAX_RUNTIME_S


# -- the kill at max_runtime ------------------------------------------------------------------------
def test_a_run_reaching_max_runtime_is_killed_and_its_jct_ends_there():
    jobs = [Job("long", "a", 0, 8, 8 * DAY), Job("short", "a", 10, 8, 100)]
    sim = Sim(jobs, 8, runtime_rule="none", check=True)
    sim.run(make("fifo"))
    long_job = next(j for j in sim.done if j.job_id == "long")
    assert long_job.killed and long_job.finished_at == MAX_RUNTIME_S
    r = metrics(sim)
    assert (r["jobs_completed"], r["jobs_killed"]) == (1, 1)
    assert r["avg_jct_s"] == round((MAX_RUNTIME_S + (MAX_RUNTIME_S + 100 - 10)) / 2, 1)


@pytest.mark.parametrize("rule", ["user", "hour"])
def test_no_job_is_killed_without_restarts_when_estimates_cover_durations(rule):
    jobs = [Job(str(i), "ab"[i % 2], i * 50, 1 + i % 8, 300 + 977 * i) for i in range(30)]
    sim = Sim(jobs, 16, runtime_rule=rule, check=True)
    sim.run(make("fifo_backfill"))
    assert metrics(sim)["jobs_killed"] == 0


def _las(jobs, **kw):
    sim = Sim(jobs, 8, runtime_rule="exact", check=True, restart_cost_s=300, **kw)
    sim.run(make("las"))
    return {j.job_id: j for j in sim.done}


def test_max_runtime_applies_per_run():
    # checkpointable: runs of 4,000 s and 6,000 + 300 s, each within the 10,000 s limit, though the
    # total (10,300 s) is not
    done = _las([Job("a", "x", 0, 8, 10_000), Job("b", "y", 4000, 8, 100)], preemptible=True)
    assert not done["a"].killed and done["a"].finished_at == 4100 + 6000 + 300
    # not checkpointable: the restart needs the whole 10,000 s plus 300 s, over the limit: killed at it
    done = _las([Job("a", "x", 0, 8, 10_000), Job("b", "y", 4000, 8, 100)])
    assert done["a"].killed and done["a"].finished_at == 4100 + 10_000


# -- static_partition -------------------------------------------------------------------------------
def test_largest_remainder_gives_whole_nodes_and_at_least_one_each():
    assert largest_remainder_nodes({"a": 1, "b": 1, "c": 1}, 8) == {"a": 3, "b": 3, "c": 2}
    assert largest_remainder_nodes({"a": 97, "b": 2, "c": 1}, 4) == {"a": 2, "b": 1, "c": 1}
    assert largest_remainder_nodes({"a": 5, "b": 3}, 10) == {"a": 6, "b": 4}
    assert sum(largest_remainder_nodes({str(i): i + 1 for i in range(7)}, 9).values()) == 9
    with pytest.raises(ValueError, match="3 tenants but only 2 nodes"):
        largest_remainder_nodes({"a": 1, "b": 1, "c": 1}, 2)


class RecordingSim(Sim):
    """Records every start's tenant and nodes."""

    def start(self, job, placement):
        self.placed = [*getattr(self, "placed", []), (job.vc, {node for node, _ in placement})]
        super().start(job, placement)


def test_static_partition_keeps_each_tenant_on_its_own_nodes():
    # tenant a floods the cluster; b and c arrive later and must still find their own nodes free
    jobs = [Job(f"a{i}", "a", i, 8, 5000) for i in range(12)]
    jobs += [Job(f"b{i}", "b", 100 + i, 3, 200) for i in range(6)] + [Job("c0", "c", 150, 16, 300)]
    sim = RecordingSim(jobs, 48, runtime_rule="user", check=True)  # 6 nodes, 2 per tenant
    policy = make("static_partition")
    sim.run(policy)
    assert {vc: len(nodes) for vc, nodes in policy.nodes.items()} == {"a": 2, "b": 2, "c": 2}
    for vc, nodes in sim.placed:
        assert nodes <= set(policy.nodes[vc]), (vc, nodes)
    assert next(j for j in sim.done if j.job_id == "c0").first_start == 150  # its slice was free
    assert metrics(sim)["jobs_never_fit"] == 0


def test_static_partition_sets_aside_gangs_larger_than_their_slice():
    jobs = [Job("big", "a", 0, 24, 100), Job("ok", "a", 1, 16, 100), Job("b", "b", 2, 8, 100)]
    sim = Sim(jobs, 32, runtime_rule="user", check=True)  # 4 nodes: 2 each
    sim.run(make("static_partition"))
    r = metrics(sim)
    assert (r["jobs_completed"], r["jobs_never_fit"]) == (2, 1)
    assert r["tenants"]["a"]["jobs_never_fit"] == 1


def test_static_partition_slices_follow_the_shares():
    jobs = [Job("0", "a", 0, 1, 10), Job("1", "b", 0, 1, 10)]
    sim = Sim(jobs, 80, runtime_rule="user")
    policy = make("static_partition", shares={"a": 300.0, "b": 100.0})
    sim.run(policy)
    assert {vc: len(nodes) for vc, nodes in policy.nodes.items()} == {"a": 8, "b": 2}  # rounds 7.5 up


# -- shares from history only -------------------------------------------------------------------------
def write_history(path, rows):
    lines = ["job_id,vc,submit_time,submit_s,num_gpus,duration_s,gpu_seconds"]
    lines += [f"{i},{vc},{when},0,{gpus},{duration},0" for i, (vc, when, gpus, duration) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_shares_come_only_from_the_weeks_before_the_window(tmp_path):
    history = write_history(
        tmp_path / "full.csv",
        [
            ("a", "2017-10-01 00:00:00", 2, 3600),  # 2 GPU-h, inside the 4 weeks
            ("a", "2017-09-01 00:00:00", 8, 36000),  # more than 4 weeks before: ignored
            ("b", "2017-10-22 23:00:00", 1, 7200),  # straddles the start: only its first hour counts
            ("c", "2017-10-23 00:00:00", 64, 3600),  # the window itself: never counted
            ("c", "2017-10-25 00:00:00", 64, 3600),
        ],
    )
    start = datetime(2017, 10, 23)
    assert history_gpu_hours(history, start, weeks=4) == {"a": 2.0, "b": 1.0}
    weights = tenant_weights({"a", "b", "c", "d"}, history_gpu_hours(history, start))
    assert weights == {"a": 2.0, "b": 1.0, "c": 1.5, "d": 1.5}  # no history: the median


def test_proportional_shares_read_the_window_start_from_the_slice(tmp_path):
    history = write_history(tmp_path / "full.csv", [("a", "2017-10-20 00:00:00", 1, 3600)])
    window = write_history(tmp_path / "slice.csv", [("a", "2017-10-23 05:00:00", 1, 60)])
    assert resolve_shares("proportional", window, history) == {"a": 1.0}
    assert resolve_shares("equal", window) == "equal"
    no_time = tmp_path / "plain.csv"
    no_time.write_text("job_id,vc,submit_s,num_gpus,duration_s\n0,a,0,1,60\n")
    with pytest.raises(ValueError, match="submit_time"):
        resolve_shares("proportional", no_time, history)


# -- sharing ratios ---------------------------------------------------------------------------------
def test_sharing_ratio_is_avg_jct_over_the_jobs_run_under_both():
    shared = {"1": ("a", 100.0), "2": ("a", 300.0), "3": ("b", 50.0), "4": ("b", 999.0)}
    alone = {"1": ("a", 200.0), "2": ("a", 200.0), "3": ("b", 100.0)}  # job 4 never fit its slice
    assert sharing_ratios(shared, alone) == {"a": 1.0, "b": 0.5}


def test_the_cli_runs_static_partition_for_the_ratios_when_not_asked(tmp_path):
    import json

    from bench.replay import main

    trace = tmp_path / "t.csv"
    trace.write_text("job_id,vc,submit_s,num_gpus,duration_s\n0,a,0,8,1000\n1,b,1,8,100\n2,b,2,8,100\n")
    out = tmp_path / "r.json"
    assert main(["--trace", str(trace), "--gpus", "16", "--policy", "fifo", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["runtime_estimate"] == "user"
    assert data["static_partition_baseline"]["requested"] is False
    fifo = data["policies"]["fifo"]
    # alone, b's two jobs run one after the other on its node, as they do beside a under FIFO
    assert fifo["tenants"]["b"]["sharing_ratio"] == 1.0
    assert fifo["max_sharing_ratio"] == 1.0


# -- first estimates --------------------------------------------------------------------------------
class GuessingFifo(Fifo):
    """FIFO that guesses every waiting job starts 1,000 s from now, ±500 s."""

    def estimates(self, sim):
        return {job_id: (sim.now + 1000, sim.now + 500, sim.now + 1500) for job_id in sim.queue}


def test_the_first_estimate_is_kept_and_compared_with_the_first_start():
    jobs = [Job("a", "x", 0, 8, 3000), Job("b", "x", 10, 8, 600), Job("c", "x", 20, 8, 100)]
    sim = Sim(jobs, 8, runtime_rule="user", check=True)
    sim.run(GuessingFifo())
    got = {j.job_id: j for j in sim.done}
    assert got["a"].first_estimate is None  # started at once, never waited
    assert got["b"].first_estimate == (10, 1010, 510, 1510)  # its first, not the later ones
    assert got["c"].first_estimate == (20, 1020, 520, 1520)
    # b waited 2,990 s (start 3,000): error |1,010 − 3,000| / 2,990; c: |1,020 − 3,600| / 3,580
    acc = metrics(sim)["estimates"]
    assert acc["jobs_waited"] == acc["jobs_estimated"] == 2
    errors = sorted([1990 / 2990, 2580 / 3580])
    assert acc["median_error"] == round((errors[0] + errors[1]) / 2, 4)
    assert acc["inside_range"] == 0.0


def test_estimate_accuracy_on_hand_made_jobs():
    def job(wait, estimate, low, high):
        j = Job("j", "x", 0, 1, 10)
        j.first_start = wait
        j.first_estimate = (0, estimate, low, high)
        return j

    jobs = [job(1000, 1000, 900, 1100), job(1000, 1500, 1400, 1600), job(2000, 1000, 500, 2500)]
    jobs.append(job(60, 5000, 0, 0))  # waited under 5 min: not counted
    acc = estimate_accuracy(jobs)
    assert acc["jobs_waited"] == 3
    assert acc["median_error"] == 0.5  # errors 0, 0.5, 0.5
    assert acc["p90_error"] == 0.5
    assert acc["inside_range"] == round(2 / 3, 4)


def test_gpugrant_gives_estimates_from_the_product():
    jobs = [Job("blocker", "x", 0, 8, 5000), Job("next", "y", 10, 8, 100)]
    sim = Sim(jobs, 8, runtime_rule="hour", check=True)
    sim.run(make("gpugrant"))
    waited = next(j for j in sim.done if j.job_id == "next")
    given_at, start, low, high = waited.first_estimate
    assert given_at == 10 and start == low == high == 2 * HOUR  # the blocker's max_runtime end


# -- the weekly sweep ---------------------------------------------------------------------------------
def test_full_weeks_run_monday_to_monday_inside_the_trace():
    rows = [{"submit_time": t} for t in ("2017-09-04 10:30:00", "2017-09-20 00:00:00", "2017-10-02 00:00:00")]
    assert full_weeks(rows) == [datetime(2017, 9, 11), datetime(2017, 9, 18)]


def test_the_gap_target_applies_only_where_easy_trails_sjf():
    def result(jct, **extra):
        return {"avg_jct_s": jct, "preemptions": 0, "max_sharing_ratio": 1.0, **extra}

    estimates = {"median_error": None, "p90_error": None, "inside_range": None}
    user = {
        "gpugrant": result(100.0, estimates=estimates),
        "fifo_backfill": result(102.0),
        "sjf_oracle": result(100.0),
        "static_partition": result(300.0),
        "las": result(150.0),
    }
    none = {"gpugrant": result(140.0), "sjf_oracle": result(100.0)}
    targets = {t["short"]: t for t in week_targets(user, none)}
    assert targets["EASY–SJF gap closed"]["met"] is None  # EASY within 5 % of SJF
    assert targets["static ÷ JCT"]["value"] == 3.0 and targets["static ÷ JCT"]["met"]
    assert targets["none: JCT ÷ SJF"]["met"]
    assert targets["estimate median"]["met"] is None  # nothing measured
    user["fifo_backfill"] = result(200.0)
    targets = {t["short"]: t for t in week_targets(user, none)}
    assert targets["EASY–SJF gap closed"]["value"] == 1.0


def test_without_a_node_per_tenant_static_partition_is_an_error_and_ratios_are_left_out(tmp_path):
    import json

    from bench.replay import main

    trace = tmp_path / "t.csv"
    trace.write_text("job_id,vc,submit_s,num_gpus,duration_s\n0,a,0,1,10\n1,b,0,1,10\n2,c,0,1,10\n")
    out = tmp_path / "r.json"
    assert main(["--trace", str(trace), "--gpus", "16", "--policy", "static_partition"]) == 2
    assert main(["--trace", str(trace), "--gpus", "16", "--policy", "fifo", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert "3 tenants but only 2 nodes" in data["static_partition_baseline"]["error"]
    assert data["policies"]["fifo"]["max_sharing_ratio"] is None


# -- the product's planner learns runtimes as jobs finish ------------------------------------------------
def test_gpugrant_predicts_from_the_tenants_finished_jobs_only_once_they_end_and_gives_ranges():
    # One 8-GPU node. Tenant "a" runs three 1-hour jobs one after the other, then two more queue behind a
    # 1-hour job: by then "a"'s history says 1 h. Tenant "b" never finished anything.
    jobs = [Job(str(i), "a", i * 1.0, 8, HOUR) for i in range(3)] + [
        Job("b1", "b", 10.0, 8, 2 * HOUR),
        Job("a9", "a", 11.0, 8, HOUR),
    ]
    sim = Sim(jobs, 8, runtime_rule="none")
    policy = make("gpugrant")
    seen = {}
    original = policy.decide

    def watching(s):
        starts, victims = original(s)
        for job_id, q in policy.queued.items():
            seen.setdefault(job_id, []).append((s.now, q.prediction))
        return starts, victims

    policy.decide = watching
    sim.run(policy)
    first_known = next(now for now, p in seen["a9"] if p is not None)
    assert first_known >= 2 * HOUR  # two of "a"'s runs had ended: never before they did
    assert all(p is None for _, p in seen["b1"])  # "a"'s history says nothing of "b"
    prediction = next(p for _, p in seen["a9"] if p is not None)
    # (the trace names no commands; under `none` every job asks for the same maximum, so the submitter's
    # runs of that size and limit match)
    assert prediction.runtime_s == HOUR and prediction.basis == "same_submitter_limit"
    estimates = metrics(sim)["estimates"]
    assert estimates["jobs_estimated"] >= 1


def test_calibration_learns_only_from_jobs_that_have_started_and_never_changes_a_decision():
    # 60 jobs of 1-8 GPUs of one tenant behind two long blockers of another on one 8-GPU node, arriving
    # over time, with an "hour" estimate each: the plan's first estimates for them (which do not foresee
    # the blockers' preemption) are what calibration learns from.
    jobs = [Job("blocker", "x", 0, 4, 3 * HOUR), Job("blocker2", "x", 0, 4, 3 * HOUR)] + [
        Job(f"j{i}", "y", 60.0 * i, 1 + i % 8, 600.0 + 60 * i) for i in range(60)
    ]
    runs = {}
    for name in ("gpugrant", "gpugrant_uncalibrated"):
        copies = [Job(j.job_id, j.vc, j.submit_s, j.num_gpus, j.duration_s) for j in jobs]
        sim = Sim(copies, 8, runtime_rule="hour", check=True)
        policy = make(name)
        learnt = []
        if policy.calibrate:
            setup = policy.setup

            def eager(s, setup=setup, policy=policy):  # learn from the first start on (a tiny trace)
                setup(s)
                policy.calibration = WaitCalibration(min_samples=1)

            policy.setup = eager
            original = policy.estimates

            def watching(s, original=original, policy=policy, learnt=learnt):
                result = original(s)
                samples = sum(len(ratios) for ratios in policy.calibration._ratios.values())
                learnt.append((samples, len(s.first_started)))
                return result

            policy.estimates = watching
        sim.run(policy)
        runs[name] = (sim, learnt, policy)
    calibrated, plain = runs["gpugrant"][0], runs["gpugrant_uncalibrated"][0]
    # the same starts and ends: calibration touches what users are told, never the plan
    assert {j.job_id: (j.first_start, j.finished_at) for j in calibrated.done} == {
        j.job_id: (j.first_start, j.finished_at) for j in plain.done
    }
    assert runs["gpugrant_uncalibrated"][2].calibration is None and runs["gpugrant"][1]
    # the uncalibrated variant tells the plan's own estimates; the default corrects some of them
    plain_first = {j.job_id: j.first_estimate for j in plain.jobs}
    assert any(j.first_estimate != plain_first[j.job_id] for j in calibrated.jobs)
    # at every moment, no more samples than jobs that had started by then: nothing from the future
    learnt = runs["gpugrant"][1]
    assert all(samples <= started for samples, started in learnt)
    assert learnt[-1][0] > 0  # and it did learn


def test_a_split_sweep_merges_into_one_each_week_and_size_once_in_calendar_order():
    from bench.replay_weeks import merge_sweeps

    def part(command, runs):
        return {
            "command": command,
            "gpus": [512, 256],
            "date": "d",
            "weeks": [{"week": week, "gpus": gpus, "from": command} for week, gpus in runs],
        }

    first = part("a", [("2017-10-02", 512), ("2017-10-02", 256), ("2017-10-23", 512)])  # cut mid-week
    second = part("b", [("2017-10-23", 512), ("2017-10-23", 256), ("2017-09-25", 256)])
    merged = merge_sweeps([first, second], "merge")
    assert [(r["week"], r["gpus"], r["from"]) for r in merged["weeks"]] == [
        ("2017-09-25", 256, "b"),
        ("2017-10-02", 512, "a"),
        ("2017-10-02", 256, "a"),
        ("2017-10-23", 512, "a"),
        ("2017-10-23", 256, "b"),
    ]
    assert merged["command"] == "merge" and merged["parts"] == ["a", "b"]


def _week_rows():
    """Two tenants on 16 GPUs: a's long 8-GPU runs hold a node while b's short ones queue behind them."""
    rows = []
    for i in range(12):
        vc, gpus, duration = ("a", 8, 20000) if i % 3 == 0 else ("b", 8 if i % 2 else 4, 900 + 300 * i)
        rows.append(
            {
                "job_id": str(i),
                "vc": vc,
                "submit_s": str(60 * i),
                "num_gpus": str(gpus),
                "duration_s": str(duration),
            }
        )
    return rows


def test_a_policy_tried_against_a_base_sweep_reruns_only_itself_and_the_slices():
    from bench.replay_weeks import replay_week

    rows = _week_rows()
    base = replay_week(rows, 16, 0.0, log=lambda s: None) | {"week": "2017-11-06"}
    assert base["selected"]
    tried = replay_week(
        rows, 16, 0.0, log=lambda s: None, gpugrant='gpugrant{"max_preemptions": 1}', base=base
    )
    assert tried["gpugrant_policy"] == 'gpugrant{"max_preemptions": 1}'
    for name in ("fifo", "fifo_backfill", "sjf_oracle", "las", "static_partition"):
        assert tried["user"]["policies"][name] == base["user"]["policies"][name]
    assert tried["none"]["policies"]["sjf_oracle"] is base["none"]["policies"]["sjf_oracle"]
    # the same run named the long way gives the same gpugrant as a fresh sweep with that policy
    fresh = replay_week(rows, 16, 0.0, log=lambda s: None, gpugrant='gpugrant{"max_preemptions": 1}')
    ours, again = tried["user"]["policies"]["gpugrant"], fresh["user"]["policies"]["gpugrant"]
    assert (ours["avg_jct_s"], ours["preemptions"]) == (again["avg_jct_s"], again["preemptions"])
    assert ours["max_sharing_ratio"] == again["max_sharing_ratio"] is not None
    assert tried["targets"] == fresh["targets"]


def test_a_base_sweep_whose_slices_differ_stops_the_try():
    from bench.replay_weeks import replay_week

    rows = _week_rows()
    base = replay_week(rows, 16, 0.0, log=lambda s: None) | {"week": "2017-11-06"}
    base["user"]["policies"]["static_partition"] = base["user"]["policies"]["static_partition"] | {
        "avg_jct_s": 1.0
    }
    with pytest.raises(RuntimeError, match="static_partition differs"):
        replay_week(rows, 16, 0.0, log=lambda s: None, gpugrant="gpugrant", base=base)
