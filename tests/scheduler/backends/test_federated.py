"""The federated backend on its own: simulated clusters behind one Backend, names qualified by cluster,
binds routed, gangs kept in one cluster, and failover: silence tolerated for a while, then the cluster
is down, and cleaned before reuse when it answers again. A clock the test moves; no database."""

import pytest

from scheduler.backends.base import BindError, JobSpec, NodeInfo, Phase, PodSpec
from scheduler.backends.federated import CLEANING, ClusterUnreachable, FederatedBackend
from scheduler.backends.simulated import SimulatedBackend


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def spec(job_id: str, *nodes: str, gpus: int = 8) -> JobSpec:
    return JobSpec(
        job_id=job_id,
        name=job_id,
        organisation_id="org",
        allocation_id="alloc",
        kind="training",
        image="python:3.11",
        command=("true",),
        environment={},
        gpu_type="A100",
        gpus_per_pod=gpus,
        pods=tuple(PodSpec(node, tuple(range(gpus)), rank) for rank, node in enumerate(nodes)),
        max_runtime_seconds=3600,
    )


@pytest.fixture
def clusters():
    clock = Clock()
    seoul = SimulatedBackend(nodes=[NodeInfo("gpu-1", "A100", 8), NodeInfo("gpu-2", "A100", 8)])
    busan = SimulatedBackend(nodes=[NodeInfo("gpu-1", "A100", 8)])  # the same node name elsewhere
    federation = FederatedBackend({"seoul": seoul, "busan": busan}, offline_after_s=60, clock=clock)
    return federation, seoul, busan, clock


def test_nodes_are_named_and_tied_by_cluster(clusters):
    federation, *_ = clusters
    assert sorted((n.name, n.cluster) for n in federation.inventory()) == [
        ("busan/gpu-1", "busan"),
        ("seoul/gpu-1", "seoul"),
        ("seoul/gpu-2", "seoul"),
    ]


def test_a_bind_goes_to_its_clusters_nodes_by_their_own_names(clusters):
    federation, seoul, busan, _ = clusters
    federation.bind(spec("j1", "busan/gpu-1"))
    assert busan.statuses(["j1"])[0].phase == Phase.RUNNING and seoul.statuses(["j1"]) == []
    assert federation.statuses(["j1", "nobody"]) == busan.statuses(["j1"])
    federation.stop("j1", "cancelled")
    assert busan.statuses(["j1"])[0].phase == Phase.STOPPED


@pytest.mark.parametrize(
    "nodes, words",
    [
        (("seoul/gpu-1", "busan/gpu-1"), "never spans clusters"),
        (("gpu-1",), "names no cluster"),
        (("jeju/gpu-1",), "no cluster 'jeju'"),
    ],
)
def test_a_bind_across_clusters_or_to_none_is_refused(clusters, nodes, words):
    federation, seoul, busan, _ = clusters
    with pytest.raises(BindError, match=words):
        federation.bind(spec("j1", *nodes))
    assert seoul.owned_job_ids() == busan.owned_job_ids() == set()


def test_a_silent_cluster_keeps_its_nodes_and_its_jobs_unknown_until_it_is_down(clusters):
    federation, seoul, busan, clock = clusters
    federation.inventory()
    federation.bind(spec("j1", "busan/gpu-1"))
    busan.cut_off("no route to host")
    clock.now += 59
    silent = {n.name: n for n in federation.inventory()}["busan/gpu-1"]  # as last seen, taking nothing new
    assert not silent.schedulable and "does not answer: " in silent.unschedulable_reason
    assert federation.statuses(["j1"])[0].phase == Phase.UNKNOWN  # left as it is
    assert not federation.health()["busan"].down
    with pytest.raises(ClusterUnreachable, match="did not answer") as refused:
        federation.bind(spec("j2", "busan/gpu-1"))
    assert refused.value.counts_as_requeue is False  # not the job's fault
    clock.now += 1
    assert {n.cluster for n in federation.inventory()} == {"seoul"}  # down: its nodes are gone
    health = federation.health()["busan"]
    assert health.down and "no route to host" in health.error
    assert federation.statuses(["j1"]) == []  # not reported: reconciliation marks it lost
    with pytest.raises(BindError, match="busan is down"):
        federation.bind(spec("j3", "busan/gpu-1"))


def test_a_cluster_back_from_down_is_cleaned_before_any_placement(clusters):
    federation, seoul, busan, clock = clusters
    federation.inventory()
    federation.bind(spec("old", "busan/gpu-1"))
    busan.cut_off()
    clock.now += 61
    federation.inventory()
    assert federation.health()["busan"].down
    # meanwhile the job was requeued and runs in seoul; the partitioned busan still runs its old pods
    federation.bind(spec("old", "seoul/gpu-1"))
    busan.reconnect()
    nodes = {n.name: n for n in federation.inventory()}
    assert busan.statuses(["old"])[0].phase == Phase.STOPPED  # the leftover was stopped first
    assert seoul.statuses(["old"])[0].phase == Phase.RUNNING  # the live run is untouched
    assert nodes["busan/gpu-1"].schedulable and not federation.health()["busan"].cleaning
    assert federation.statuses(["old"])[0].phase == Phase.RUNNING  # the live one wins


def test_a_cluster_that_cannot_be_cleaned_stays_unschedulable(clusters, monkeypatch):
    federation, seoul, busan, clock = clusters
    federation.bind(spec("old", "busan/gpu-1"))
    busan.cut_off()
    clock.now += 61
    federation.inventory()
    busan.reconnect()

    def refuse(job_id, reason):
        raise ConnectionError("stop refused")

    monkeypatch.setattr(busan, "stop", refuse)
    nodes = {n.name: n for n in federation.inventory()}
    assert not nodes["busan/gpu-1"].schedulable and nodes["busan/gpu-1"].unschedulable_reason == CLEANING
    with pytest.raises(BindError, match="being cleaned"):
        federation.bind(spec("new", "busan/gpu-1"))
    monkeypatch.undo()
    assert {n.name: n for n in federation.inventory()}["busan/gpu-1"].schedulable


def test_members_change_without_losing_the_health_of_those_kept(clusters):
    federation, seoul, busan, clock = clusters
    busan.cut_off()
    federation.inventory()
    federation.set_members({"busan": busan, "jeju": SimulatedBackend(nodes=[NodeInfo("n", "H100", 8)])})
    assert federation.health()["busan"].silent_since == clock.now
    assert set(federation.health()) == {"busan", "jeju"}
    assert federation.bind_concurrency == 2  # binds to different clusters run side by side
    with pytest.raises(ValueError, match="cannot hold"):
        federation.set_members({"a/b": seoul})


def test_a_session_is_found_where_its_cluster_runs_it(clusters, monkeypatch):
    federation, seoul, busan, _ = clusters
    monkeypatch.setattr(
        busan, "session_endpoint", lambda job_id: "http://job-1.org.svc:8888" if job_id == "s1" else None
    )
    assert federation.session_endpoint("s1") == "http://job-1.org.svc:8888"
    assert federation.session_endpoint("nobody") is None
