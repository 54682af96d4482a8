"""Trace replay (bench/replay.py): invariants on a real trace slice, known answers on tiny traces.

Never timings. The simulator runs with ``check=True``: every start asserts that its GPUs are free, that
gangs get whole nodes and that busy GPUs never exceed the cluster.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bench.policies import POLICIES, make
from bench.replay import main, replay
from bench.sim import Job, Sim, load_trace, rule_2x, rule_hour

TRACES = Path(__file__).parents[2].parent / "shared/traces/philly"
DAY = TRACES / "philly_day_2017-10-24.csv"
KEYS = {
    "jobs_completed",
    "avg_jct_s",
    "median_jct_s",
    "avg_queue_s",
    "p95_queue_s",
    "p99_queue_s",
    "utilization",
    "makespan_s",
    "jain_index",
    "preemptions",
    "lower_bound_avg_jct_s",
    "gpu_hours_lost",
    "tenants",
}


def day_slice(n=500):
    if not DAY.exists():
        pytest.skip(f"Philly trace not found at {DAY} (../shared/traces/philly is outside the repository)")
    return load_trace(DAY)[:n]


@pytest.mark.parametrize("preemptible", [False, True])
@pytest.mark.parametrize("policy", POLICIES)
def test_day_slice_invariants(policy, preemptible):
    jobs = day_slice()
    r = replay(str(DAY), 64, policy, preemptible=preemptible, check=True, jobs=jobs, shares="proportional")
    assert KEYS <= r.keys()
    assert r["jobs_completed"] + r["jobs_killed"] + r["jobs_never_fit"] == len(jobs)
    if policy != "static_partition":
        assert r["jobs_never_fit"] == 0
    assert r["max_busy_gpus"] <= 64
    assert 0 < r["utilization"] <= 1
    assert 0 < r["jain_index"] <= 1
    assert r["avg_jct_s"] >= r["lower_bound_avg_jct_s"]
    assert sum(t["jobs"] + t["jobs_never_fit"] for t in r["tenants"].values()) == len(jobs)
    if policy in ("fifo", "fifo_backfill", "static_partition", "sjf_oracle"):
        assert r["preemptions"] == 0


def test_multi_node_jobs_get_whole_nodes():
    # 12 GPUs on 8-GPU nodes: two whole nodes; a 3-GPU job packs next to others
    jobs = [Job("0", "a", 0, 12, 100), Job("1", "b", 0, 3, 50), Job("2", "b", 1, 5, 50)]
    for policy in POLICIES:
        sim = Sim([Job(j.job_id, j.vc, j.submit_s, j.num_gpus, j.duration_s) for j in jobs], 24, check=True)
        sim.run(make(policy))
        assert len(sim.done) == 3
        big = next(j for j in sim.done if j.job_id == "0")
        assert (big.pods, big.gpus_per_pod) == (2, 8)


def _run(policy, jobs, gpus=8, rule="exact", **kw):
    sim = Sim(jobs, gpus, runtime_rule=rule, check=True, **kw)
    sim.run(make(policy))
    return {j.job_id: j for j in sim.done}, sim


def three_jobs():
    # a blocker holds the only node; then three jobs arrive, longest first
    return [
        Job("blocker", "x", 0, 8, 50),
        Job("long", "x", 1, 8, 100),
        Job("mid", "y", 2, 8, 10),
        Job("short", "z", 3, 8, 1),
    ]


def test_fifo_vs_sjf_known_answers():
    fifo, _ = _run("fifo", three_jobs())
    assert [fifo[k].finished_at for k in ("blocker", "long", "mid", "short")] == [50, 150, 160, 161]
    sjf, _ = _run("sjf_oracle", three_jobs())
    assert [sjf[k].finished_at for k in ("blocker", "short", "mid", "long")] == [50, 51, 61, 161]
    jct = lambda d: sum(j.finished_at - j.submit_s for j in d.values()) / len(d)  # noqa: E731
    assert jct(sjf) < jct(fifo)


def test_easy_backfill_starts_a_job_that_ends_before_the_reservation():
    jobs = lambda: [Job("a", "x", 0, 8, 100), Job("b", "x", 1, 16, 10), Job("c", "y", 2, 8, 50)]  # noqa: E731
    fifo, _ = _run("fifo", jobs(), gpus=16)
    assert fifo["c"].first_start == 110  # behind the 16-GPU job
    easy, _ = _run("fifo_backfill", jobs(), gpus=16)
    assert easy["c"].first_start == 2  # ends at 52, before b's reserved start at 100
    assert easy["b"].first_start == 100


def test_las_preempts_a_long_job_for_a_new_one_and_charges_the_restart():
    jobs = [Job("a", "x", 0, 8, 10_000), Job("b", "y", 4000, 8, 100)]
    # the 7-day max_runtime: with "exact", the restarted run (duration + restart) would be killed
    done, sim = _run("las", jobs, rule="none", restart_cost_s=300)
    assert done["b"].finished_at == 4100
    assert done["a"].finished_at == 4100 + 10_000 + 300  # not checkpointable: progress lost
    assert sim.preemptions == 1
    assert sim.gpu_s_lost == (4000 + 300) * 8


def test_las_checkpointable_keeps_progress():
    jobs = [Job("a", "x", 0, 8, 10_000), Job("b", "y", 4000, 8, 100)]
    done, _ = _run("las", jobs, rule="none", preemptible=True, restart_cost_s=300)
    assert done["a"].finished_at == 4100 + 6000 + 300


def test_gpugrant_runs_the_real_planner_on_a_tiny_trace():
    done, sim = _run("gpugrant", three_jobs())
    assert len(done) == 4 and not sim.queue and not sim.running
    assert done["blocker"].first_start == 0


def test_gpugrant_places_a_preemptor_once_its_victims_have_stopped_not_at_the_traces_next_event():
    # x runs two 4-GPU jobs on the only node (its equal share is 4); y's 4-GPU job arrives after x's
    # grace and preempts one of them. Nothing else happens for 10 h, yet y starts 30 s later: the
    # product's next cycle after the victim's pod has stopped (Kubernetes' default grace, 30 s).
    jobs = [Job("a", "x", 0, 4, 36_000), Job("b", "x", 1, 4, 36_000), Job("c", "y", 1000, 4, 100)]
    done, sim = _run("gpugrant", jobs, gpus=8, rule="none")
    assert sim.preemptions == 1
    assert done["c"].first_start == 1000 + make("gpugrant").replan_after_preemption_s == 1030


def test_gpugrant_preempts_when_its_victims_grace_ends_not_at_the_traces_next_event():
    # As above, but y arrives while both of x's jobs are in their 10-minute grace: the plan says when
    # it could preempt (b leaves its grace at 601 s), the product's cycle does so then, and y starts
    # 30 s later, though the trace's next event is 10 h away.
    jobs = [Job("a", "x", 0, 4, 36_000), Job("b", "x", 1, 4, 36_000), Job("c", "y", 100, 4, 100)]
    done, sim = _run("gpugrant", jobs, gpus=8, rule="none")
    assert sim.preemptions == 1
    assert done["c"].first_start == 1 + 600 + 30


def test_gpugrant_preempts_once_the_preemptor_has_waited_what_it_must_not_at_the_traces_next_event():
    # As above, with GPUGRANT_PREEMPTION_WAIT_S = 300: y may preempt at 1,300 s and starts 30 s later.
    jobs = [Job("a", "x", 0, 4, 36_000), Job("b", "x", 1, 4, 36_000), Job("c", "y", 1000, 4, 100)]
    policy = make("gpugrant")
    policy.policy = replace(policy.policy, preemption_wait_s=300.0)
    sim = Sim(jobs, 8, runtime_rule="none", check=True)
    sim.run(policy)
    assert sim.preemptions == 1
    assert sim.by_id["c"].first_start == 1000 + 300 + 30


def test_runtime_rules():
    assert rule_hour(1) == 3600 and rule_hour(3600) == 3600 and rule_hour(3601) == 7200
    assert rule_2x(100) == 200
    assert rule_2x(5 * 24 * 3600) == 7 * 24 * 3600  # capped
    assert rule_2x(20 * 24 * 3600) == 20 * 24 * 3600  # never below the duration


def test_cli_writes_json(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("job_id,vc,submit_s,num_gpus,duration_s\n0,a,0,1,100\n1,b,10,16,50\n2,a,20,2,30\n")
    out = tmp_path / "r.json"
    assert main(["--trace", str(trace), "--gpus", "16", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["trace"] == str(trace) and data["gpus"] == 16
    assert set(data["policies"]) == set(POLICIES)
    for result in data["policies"].values():
        assert KEYS <= result.keys()
        assert result["jobs_completed"] + result["jobs_never_fit"] == 3
        assert "max_sharing_ratio" in result
    # b's 16-GPU gang cannot fit b's one-node slice
    assert data["policies"]["static_partition"]["jobs_never_fit"] == 1
    assert data["static_partition_baseline"]["requested"] is True


def test_the_utilisation_bound_is_every_job_started_at_submission_and_fifo_reaches_it_when_nothing_waits():
    from bench.replay import run_policy

    # 4 GPUs for 10 s at t=0, then 1 GPU at t=100 (the window's end): 40 GPU-s of 8 × 100 possible
    jobs = [Job("a", "x", 0, 4, 10), Job("b", "x", 100, 1, 5)]
    result, _ = run_policy(jobs, 8, "fifo")
    assert result["utilization_bound"] == 0.05 == result["utilization"]
    # more work than GPUs: the bound is capped at 1, and a policy cannot do more useful work
    crowded = [Job(str(i), "x", i, 8, 1000) for i in range(3)]
    result, _ = run_policy(crowded, 8, "fifo")
    assert result["utilization_bound"] == 1.0 and result["utilization"] <= 1.0
