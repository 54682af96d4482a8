"""The replay across several clusters (issue 16): --clusters, the pinned reference, the targets."""

import json

import pytest

from bench.policies import make
from bench.replay import federation_targets, main
from bench.sim import HOUR, Job, Sim, node_clusters, parse_clusters
from tests.bench.test_replay import day_slice


@pytest.mark.parametrize("spec", ["a:8,a:8", "a", "a:0", "a:x", ":8"])
def test_a_bad_cluster_spec_is_refused(spec):
    with pytest.raises(ValueError):
        parse_clusters(spec)


def test_nodes_go_to_clusters_in_order_and_the_sizes_must_add_up():
    assert node_clusters(parse_clusters("a:16,b:8"), 24, 8) == ["a", "a", "b"]
    assert node_clusters(None, 16, 8) == ["", ""]
    with pytest.raises(ValueError):
        node_clusters(parse_clusters("a:16,b:8"), 32, 8)
    with pytest.raises(ValueError):
        node_clusters(parse_clusters("a:12,b:12"), 24, 8)  # not whole nodes


def test_pinned_homes_tenants_by_demand_per_gpu_and_keeps_them_there():
    # Cluster a: 2 nodes, b: 1 node. Demand x 4, y 2, z 1: x → a (4/2 = 2 < 4/1), y → b (2/1 = 2 < 6/2 = 3)
    # … z → a ((4+1)/2 = 2.5 < (2+1)/1 = 3).
    jobs = [Job("x1", "x", 0, 8, HOUR), Job("y1", "y", 0, 8, HOUR), Job("z1", "z", 0, 16, HOUR)]
    sim = Sim(jobs, 24, runtime_rule="hour", check=True, clusters=parse_clusters("a:16,b:8"))
    policy = make("pinned", demand={"x": 4.0, "y": 2.0, "z": 1.0})
    sim.run(policy)
    assert policy.home == {"x": "a", "y": "b", "z": "a"}
    assert all(j.finished_at is not None for j in sim.jobs)  # each start checked to lie in one cluster


def test_a_gang_larger_than_its_home_cluster_never_fits_under_pinned():
    jobs = [Job("big", "y", 0, 16, HOUR), Job("x1", "x", 0, 8, HOUR)]
    sim = Sim(jobs, 24, runtime_rule="hour", check=True, clusters=parse_clusters("a:16,b:8"))
    policy = make("pinned", demand={"x": 5.0, "y": 1.0})  # x takes a; y is homed on b: one node
    sim.run(policy)
    assert policy.home == {"x": "a", "y": "b"}
    assert [j.job_id for j in sim.never_fit] == ["big"]  # two nodes' gang, one node at home


def test_gpugrant_keeps_every_gang_inside_one_cluster_on_a_real_trace_slice():
    sim = Sim(day_slice(400), 64, runtime_rule="user", check=True, clusters=parse_clusters("a:16,b:32,c:16"))
    sim.run(make("gpugrant"))  # the simulator's check asserts each start lies in one cluster
    assert sim.done and not sim.queue and not sim.running


def test_the_federation_targets_compare_gpugrant_with_pinned():
    results = {
        "gpugrant": {"avg_jct_s": 2 * HOUR, "utilization": 0.80},
        "pinned": {"avg_jct_s": 4 * HOUR, "utilization": 0.65},
    }
    assert federation_targets(results) == {
        "jct_pinned_over_gpugrant": 2.0,
        "jct_met": True,
        "utilisation_points": 15.0,
        "utilisation_met": True,
    }
    results["pinned"] = {"avg_jct_s": 2.5 * HOUR, "utilization": 0.75}
    assert federation_targets(results)["jct_met"] is False
    assert federation_targets(results)["utilisation_met"] is False
    assert federation_targets({"gpugrant": results["gpugrant"]}) is None


def test_the_cli_refuses_a_policy_that_ignores_cluster_boundaries(tmp_path, capsys):
    trace = tmp_path / "t.csv"
    trace.write_text(
        "job_id,vc,submit_time,submit_s,num_gpus,duration_s,gpu_seconds\n1,a,2017-10-24 00:00:00,0,1,60,60\n"
    )
    code = main(["--trace", str(trace), "--gpus", "16", "--clusters", "a:8,b:8", "--policy", "fifo"])
    assert code == 2 and "ignores cluster boundaries" in capsys.readouterr().err


def test_the_report_tables_a_federated_replay_with_its_verdicts(tmp_path):
    from bench.report import federation_table

    sample = day_slice(300)
    trace = tmp_path / "slice.csv"
    fields = ["job_id", "vc", "submit_time", "submit_s", "num_gpus", "duration_s", "gpu_seconds"]
    lines = [",".join(fields)] + [
        f"{j.job_id},{j.vc},2017-10-24 00:00:00,{j.submit_s},{j.num_gpus},{j.duration_s},{j.duration_s * j.num_gpus}"
        for j in sample
    ]
    trace.write_text("\n".join(lines) + "\n")
    out = tmp_path / "fed.json"
    argv = ["--trace", str(trace), "--gpus", "64", "--clusters", "a:16,b:32,c:16"]
    assert main([*argv, "--policy", "gpugrant", "--policy", "pinned", "--json", str(out)]) == 0
    run = json.loads(out.read_text())
    assert set(run["federation"]) == {
        "jct_pinned_over_gpugrant",
        "jct_met",
        "utilisation_points",
        "utilisation_met",
    }
    table = federation_table([run])
    rows = [line for line in table.splitlines() if line.startswith("| slice.csv")]
    assert [row.split(" | ")[5] for row in rows] == ["gpugrant", "pinned"]
    assert ("met" in rows[0]) or ("MISSED" in rows[0])
    assert "a 16, b 32, c 16" in rows[0]
