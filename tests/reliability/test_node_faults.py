"""Node faults on the Kubernetes backend, end to end: the cycle, reconcile and sweep on PostgreSQL against the
loopback API server (tests/scheduler/backends/fake_apiserver.py; no real cluster).

A node vanishes mid-job and comes back, a node flaps, a pod is deleted behind gpugrant's back, the watch
stream breaks. Each job ends up lost → requeued (or failed after GPUGRANT_MAX_REQUEUES losses), is placed
again, and never stays stuck; no GPU is double-booked; holds follow.
"""

import copy
import threading
import urllib.request

import pytest
from django.db import connection

from scheduler import backends
from scheduler.backends.kubernetes import KubernetesBackend
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs, sweep
from scheduler.states import JobState
from scheduler.watching import watch_and_reconcile
from tests.reliability.invariants import assert_invariants
from tests.reliability.stack import wait_until
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.fake_apiserver import FakeApiServer, cluster_role_rules
from tests.scheduler.helpers import submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cluster(settings, no_eager_cycles):
    """Two 4-GPU H100 nodes behind the loopback API server; returns (server, backend)."""
    server = FakeApiServer(rbac=cluster_role_rules()).start()
    backend = KubernetesBackend(
        host=server.url, qps=0, burst=10, request_timeout=(2.0, 10.0), watch_timeout_seconds=60
    )
    settings.GPUGRANT_BACKEND = backend.name
    settings.GPUGRANT_MAX_REQUEUES = 3
    backends._instances[backend.name] = backend  # noqa: SLF001
    for name in ("gpu-a", "gpu-b"):
        server.put(b.node(name, gpus=4))
    inventory_sync(backend=backend)
    yield server, backend
    backends.reset_backends()
    server.stop()


def pods_of(fake_api, job) -> list[dict]:
    return [
        p for p in fake_api.pods() if p["metadata"]["labels"].get("gpugrant.io/job") == str(job.public_id)
    ]


def node_of(job) -> str:
    job.refresh_from_db()
    return job.placement[0]["node"] if job.placement else ""


def step(backend) -> None:
    """What the periodic tasks do, once: a cycle (inventory included), a reconcile, a sweep."""
    run_cycle(backend=backend)
    reconcile_jobs(backend=backend)
    sweep(backend=backend)


def kubelet_runs(fake_api, job) -> None:
    """The kubelet starts the job's pods on the node gpugrant pinned them to."""
    for pod in pods_of(fake_api, job):
        if not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get("phase") != "Running":
            fake_api.set_pod_status(
                pod["metadata"]["namespace"], pod["metadata"]["name"], phase="Running", node_name=node_of(job)
            )


def run_until(backend, fake_api, job, condition, what: str, steps: int = 8) -> None:
    """Drive the system step by step (never stuck: it gets there within a few steps)."""
    for _ in range(steps):
        step(backend)
        kubelet_runs(fake_api, job)
        reconcile_jobs(backend=backend)
        job.refresh_from_db()
        assert_invariants()
        if condition(job):
            return
    pytest.fail(f"{what}: job is {job.state} ({job.state_reason}) after {steps} steps")


def running_on(node: str | None = None):
    return lambda job: job.state == JobState.RUNNING and (node is None or node_of(job) == node)


def test_it_requeues_a_job_whose_node_vanishes_onto_another_node_and_uses_the_node_again(
    cluster, owner, allocation
):
    fake_api, backend = cluster
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4)
    run_until(backend, fake_api, job, running_on(), "the job to run")
    lost_node = node_of(job)
    saved = copy.deepcopy(fake_api.get("nodes", lost_node))
    fake_api.remove("nodes", lost_node)

    reconcile_jobs(backend=backend)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.requeues == 1 and "lost" in job.state_reason
    other = "gpu-b" if lost_node == "gpu-a" else "gpu-a"
    run_until(backend, fake_api, job, running_on(other), "the job to run on the other node")
    # The old run's pod, pinned to the vanished node, may still be in the API: a bind elsewhere that finds
    # it removes it and fails ("retry later"), but that is not the job's fault and costs no requeue.
    assert job.requeues == 1

    saved["metadata"].pop("resourceVersion", None)
    fake_api.put(saved)  # the node is back
    step(backend)
    second = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4, name="second")
    run_until(backend, fake_api, second, running_on(lost_node), "a new job to use the returned node")
    assert_invariants()


def test_it_requeues_the_job_of_a_flapping_node_until_the_policy_fails_it(
    cluster, owner, allocation, settings
):
    fake_api, backend = cluster
    fake_api.remove("nodes", "gpu-b")  # one node only: the job always returns to the flapping one
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=4)
    saved = copy.deepcopy(fake_api.get("nodes", "gpu-a"))
    saved["metadata"].pop("resourceVersion", None)
    flaps = 0
    while job.state != JobState.FAILED:
        run_until(
            backend, fake_api, job, lambda j: j.state in (JobState.RUNNING, JobState.FAILED), "run or fail"
        )
        if job.state == JobState.FAILED:
            break
        fake_api.remove("nodes", "gpu-a")
        reconcile_jobs(backend=backend)
        flaps += 1
        fake_api.put(saved)
        job.refresh_from_db()
        assert flaps <= settings.GPUGRANT_MAX_REQUEUES + 1, job.state_reason
    assert flaps == settings.GPUGRANT_MAX_REQUEUES + 1
    assert "giving up" in job.state_reason and job.hold_gpu_seconds == 0
    assert_invariants()


@pytest.mark.parametrize("how", ["gone at once", "graceful deletion"])
def test_it_requeues_a_job_whose_pod_was_deleted_behind_its_back(cluster, owner, allocation, how):
    fake_api, backend = cluster
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=2)
    run_until(backend, fake_api, job, running_on(), "the job to run")
    (pod,) = pods_of(fake_api, job)
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    if how == "gone at once":
        fake_api.remove("pods", name, namespace)
    else:  # someone's kubectl delete: the pod lingers with a deletionTimestamp
        request = urllib.request.Request(
            f"{fake_api.url}/api/v1/namespaces/{namespace}/pods/{name}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=10).close()
    reconcile_jobs(backend=backend)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.requeues == 1, job.state_reason
    fake_api.finish_deletions()
    run_until(backend, fake_api, job, running_on(), "the job to run again")


@pytest.mark.parametrize("break_it", ["dropped", "expired"])
def test_it_reconciles_a_job_that_ends_while_the_watch_stream_is_broken(cluster, owner, allocation, break_it):
    fake_api, backend = cluster
    job = submit(owner, allocation, gpu_type="H100", gpus_per_pod=2)
    run_until(backend, fake_api, job, running_on(), "the job to run")
    stop = threading.Event()

    def watch():
        try:
            watch_and_reconcile(backend, stop)
        finally:
            connection.close()  # this thread's own; left open it would keep the test database busy

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        fake_api.wait_for(lambda: fake_api.open_watches("pods") == 1)
        if break_it == "dropped":
            fake_api.drop_watches("pods")
        else:
            fake_api.expire_watches("pods", as_event=False)
        (pod,) = pods_of(fake_api, job)
        fake_api.set_pod_status(pod["metadata"]["namespace"], pod["metadata"]["name"], phase="Succeeded")
        # Only the watch reconciles here (no periodic reconcile, no sweep).
        wait_until(
            lambda: Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED, "the watch to reconcile", 30
        )
    finally:
        stop.set()
        watcher.join(30)
    assert not watcher.is_alive()
    assert_invariants()
