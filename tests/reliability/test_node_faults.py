"""Node faults on the Kubernetes backend, end to end: the cycle, reconcile and sweep on PostgreSQL against the
real test control plane (tests/cluster): gpugrant binds its pods to the nodes it chose, kwok runs them on two
4-GPU H100 nodes, and the controller manager collects what a deleted node leaves.

A node is deleted mid-job and comes back, a node flaps, a pod (or one rank of a gang) is deleted behind
gpugrant's back, a node is drained, the watch is away while a job ends. Each job ends up lost → requeued (or
failed after GPUGRANT_MAX_REQUEUES losses), is placed again, and never stays stuck; no GPU is double-booked;
holds follow.
"""

import logging
import threading

import pytest
from django.db import connection

from scheduler import backends
from scheduler.backends.kubernetes import KubernetesBackend
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import GpuNode, Job
from scheduler.reconcile import reconcile_jobs
from scheduler.states import JobState
from scheduler.sweep import sweep
from scheduler.watching import watch_and_reconcile
from tests.cluster.controlplane import ControlPlaneError, gpu_node
from tests.reliability.invariants import assert_invariants
from tests.scheduler.backends.k8s_watching import WatchGate, restart_apiserver
from tests.scheduler.helpers import submit

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]
# A deleted node's pods stay in the API until the controller manager's PodGC removes them, 40 s after it
# first finds them orphaned (checked every 20 s).
POD_GC_SECONDS = 90


@pytest.fixture
def kube(cluster, settings, no_eager_cycles):
    """The Kubernetes backend, acting as the gpugrant-scheduler service account, as gpugrant's backend."""
    cluster.add_gpu_nodes("gpu-a", "gpu-b", gpus=4)
    # The server ends each watch after 2 s, so that a test can find the backend between two watches.
    backend = KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10, watch_timeout_seconds=2)
    settings.GPUGRANT_BACKEND = backend.name
    settings.GPUGRANT_MAX_REQUEUES = 3
    backends._instances[backend.name] = backend  # noqa: SLF001
    schedulable(cluster, backend, "gpu-a", "gpu-b")
    inventory_sync(backend=backend)
    yield backend
    backends.reset_backends()


def schedulable(cluster, backend, *nodes: str) -> None:
    """Until the backend finds ``nodes`` schedulable: Ready is not enough, the controller manager takes the
    new node's not-ready taint off a moment later."""
    cluster.wait_for(
        lambda: set(nodes) <= {node.name for node in backend.inventory() if node.schedulable},
        f"nodes {nodes} schedulable",
    )


def pods_of(cluster, job) -> list[dict]:
    return cluster.pods(f"gpugrant.io/job={job.public_id}")


def pod_path(pod: dict) -> str:
    return f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}"


def node_of(job) -> str:
    job.refresh_from_db()
    return job.placement[0]["node"] if job.placement else ""


def step(backend) -> None:
    """What the periodic tasks do, once: a cycle (inventory included), a reconcile, a sweep."""
    run_cycle(backend=backend)
    reconcile_jobs(backend=backend)
    sweep(backend=backend)


def run_until(cluster, backend, job, condition, what: str, timeout: float = 60) -> None:
    """Drive the system step by step until ``condition(job)``, checking the invariants after every step."""

    def stepped():
        step(backend)
        job.refresh_from_db()
        assert_invariants()
        return condition(job)

    try:
        cluster.wait_for(stepped, what, timeout=timeout, interval=0.2)
    except ControlPlaneError as error:
        pytest.fail(f"{error}: the job is {job.state} ({job.state_reason})")


def running_on(node: str | None = None):
    return lambda job: job.state == JobState.RUNNING and (node is None or node_of(job) == node)


def reconciled(backend, job) -> Job:
    reconcile_jobs(backend=backend)
    job.refresh_from_db()
    return job


def test_a_job_whose_node_is_deleted_is_requeued_runs_on_the_other_node_and_the_node_is_used_again(
    kube, cluster, owner, allocation
):
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4)
    run_until(cluster, kube, job, running_on(), "the job to run")
    lost, other = node_of(job), "gpu-b" if node_of(job) == "gpu-a" else "gpu-a"
    cluster.request("DELETE", f"/api/v1/nodes/{lost}")

    job = reconciled(kube, job)
    assert job.state == JobState.QUEUED and job.requeues == 1 and "lost" in job.state_reason
    # Its old pod, bound to the deleted node, keeps its name taken until PodGC removes it (no kubelet is left
    # to finish its deletion): each bind on the other node until then finds it and retries later, at no
    # requeue's cost.
    run_until(cluster, kube, job, running_on(other), "the job to run on the other node", POD_GC_SECONDS)
    assert job.requeues == 1

    cluster.create_node(gpu_node(lost, gpus=4))  # the node is back
    schedulable(cluster, kube, lost)
    second = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4, name="second")
    run_until(cluster, kube, second, running_on(lost), "a new job to use the returned node")


def test_it_requeues_the_job_of_a_flapping_node_until_the_policy_fails_it(
    kube, cluster, owner, allocation, settings
):
    # One node only: the job always returns to the flapping one.
    cluster.request("DELETE", "/api/v1/nodes/gpu-b")
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4)
    flaps = 0
    while True:
        run_until(cluster, kube, job, lambda j: j.state in (JobState.RUNNING, JobState.FAILED), "run or fail")
        if job.state == JobState.FAILED:
            break
        cluster.request("DELETE", "/api/v1/nodes/gpu-a")
        reconcile_jobs(backend=kube)
        flaps += 1
        cluster.create_node(gpu_node("gpu-a", gpus=4))
        job.refresh_from_db()
        assert flaps <= settings.GPUGRANT_MAX_REQUEUES + 1, job.state_reason
    assert flaps == settings.GPUGRANT_MAX_REQUEUES + 1
    assert "giving up" in job.state_reason and job.hold_gpu_seconds == 0
    assert_invariants()


@pytest.mark.parametrize("how", ["gone at once", "graceful deletion"])
def test_it_requeues_a_job_whose_pod_was_deleted_behind_its_back(kube, cluster, owner, allocation, how):
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=2)
    run_until(cluster, kube, job, running_on(), "the job to run")
    (pod,) = pods_of(cluster, job)
    if how == "gone at once":  # kubectl delete --force --grace-period=0
        cluster.request("DELETE", pod_path(pod) + "?gracePeriodSeconds=0")
        cluster.wait_for(lambda: cluster.get(pod_path(pod)) is None, "the pod gone")
    else:  # kubectl delete: Terminating while its containers stop, here until the finalizer goes
        _hold_finalizer(cluster, pod, ["gpugrant.test/stopping"])
        cluster.request("DELETE", pod_path(pod))

    job = reconciled(kube, job)
    assert job.state == JobState.QUEUED and job.requeues == 1, job.state_reason
    expected = "its pods vanished" if how == "gone at once" else "stopped outside gpugrant"
    assert job.events.filter(to_state=JobState.LOST, reason__contains=expected).exists()
    _hold_finalizer(cluster, pod, None)
    run_until(cluster, kube, job, running_on(), "the job to run again")


def _hold_finalizer(cluster, pod: dict, finalizers: list[str] | None) -> None:
    status, body = cluster.request(
        "PATCH",
        pod_path(pod),
        {"metadata": {"finalizers": finalizers}},
        content_type="application/merge-patch+json",
    )
    assert status in (200, 404), body  # 404: gone already


def test_a_lost_gang_job_is_restarted_whole_not_around_its_surviving_rank(kube, cluster, owner, allocation):
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4, pods=2)  # one rank on each node
    run_until(cluster, kube, job, running_on(), "the gang to run")
    first_run = {pod["metadata"]["uid"] for pod in pods_of(cluster, job)}
    rank_1 = next(
        pod for pod in pods_of(cluster, job) if pod["metadata"]["labels"]["gpugrant.io/rank"] == "1"
    )
    cluster.request("DELETE", pod_path(rank_1) + "?gracePeriodSeconds=0")
    cluster.wait_for(lambda: cluster.get(pod_path(rank_1)) is None, "rank 1 gone")

    job = reconciled(kube, job)
    assert job.state == JobState.QUEUED and job.requeues == 1, job.state_reason
    run_until(cluster, kube, job, running_on(), "the gang to run again")

    second_run = {pod["metadata"]["uid"] for pod in pods_of(cluster, job)}
    assert len(second_run) == 2 and not second_run & first_run  # rank 0 of the lost run is not part of it


def test_the_sweep_that_finds_a_gang_on_a_vanished_node_stops_its_other_rank(
    kube, cluster, owner, allocation
):
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4, pods=2)  # one rank on each node
    run_until(cluster, kube, job, running_on(), "the gang to run")
    survivor = next(pod for pod in pods_of(cluster, job) if pod["spec"]["nodeName"] == "gpu-a")
    cluster.request("DELETE", "/api/v1/nodes/gpu-b")

    run_cycle(backend=kube)  # its inventory no longer finds gpu-b; no reconcile has run
    assert sweep(backend=kube)["lost_on_vanished_nodes"] == 1

    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.requeues == 1
    cluster.wait_for(lambda: cluster.get(pod_path(survivor)) is None, "the rank on gpu-a stopped")


def test_a_drain_refuses_gpugrants_pods_and_only_cordons_the_node_which_gets_no_new_jobs(
    kube, cluster, owner, allocation
):
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=2)
    run_until(cluster, kube, job, running_on("gpu-a"), "the job to run on gpu-a")

    drain = cluster.kubectl("drain", "gpu-a", "--ignore-daemonsets", "--delete-emptydir-data", check=False)

    # gpugrant's pods have no controller (no Job, no ReplicaSet): kubectl drain evicts them only with --force.
    assert drain.returncode != 0 and "cannot delete Pods that declare no controller" in drain.stderr
    # Best fit would put it beside the first job, on the fuller node, were that node not cordoned.
    second = submit(owner, allocation, gpu_type="H100", gpus_per_pod=2, name="second")
    run_until(cluster, kube, second, running_on("gpu-b"), "a new job to avoid the cordoned node")
    assert GpuNode.objects.get(name="gpu-a").unschedulable_reason == "cordoned"
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.requeues == 0


def test_a_forced_drain_evicts_the_job_which_is_requeued_onto_another_node(kube, cluster, owner, allocation):
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4)
    run_until(cluster, kube, job, running_on("gpu-a"), "the job to run on gpu-a")

    cluster.kubectl("drain", "gpu-a", "--ignore-daemonsets", "--delete-emptydir-data", "--force")

    run_until(cluster, kube, job, running_on("gpu-b"), "the evicted job to run on the other node")
    assert job.requeues == 1
    assert job.events.filter(to_state=JobState.LOST).exists()


@pytest.mark.parametrize("away", ["between watches", "past its resourceVersion"])
def test_the_watch_alone_reconciles_a_job_that_ends_while_it_is_away(
    kube, cluster, owner, allocation, away, caplog
):
    caplog.set_level(logging.INFO, logger="scheduler.backends.kubernetes")
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=2)
    run_until(cluster, kube, job, running_on(), "the job to run")
    (pod,) = pods_of(cluster, job)
    gate = WatchGate(kube)
    stop = threading.Event()

    def watch():
        try:
            watch_and_reconcile(kube, stop)
        finally:
            connection.close()  # this thread's own; left open it would keep the test database busy

    watcher = threading.Thread(target=watch, name="k8s-watch-pods", daemon=True)
    watcher.start()
    try:
        with gate.closed("pods", "nodes"):  # both watches ended; neither has resumed
            cluster.exit_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], 0)
            cluster.wait_pod_phase(pod["metadata"]["namespace"], pod["metadata"]["name"], "Succeeded")
            if away == "past its resourceVersion":  # etcd compacted and the watch cache restarted: 410 Gone
                cluster.etcd_compact()
                restart_apiserver(cluster)
        # Only the watch reconciles here (no periodic reconcile, no sweep).
        cluster.wait_for(
            lambda: Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED, "the watch to reconcile", 30
        )
    finally:
        stop.set()
        watcher.join(30)
    assert not watcher.is_alive()
    assert ("expired; relisting" in caplog.text) == (away == "past its resourceVersion")
    assert_invariants()
