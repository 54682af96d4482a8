"""KubernetesBackend.stop() against the real control plane: delete the job's pods and Service wherever they
are; idempotent; a 404 is fine, any other failure propagates."""

import pytest
from kubernetes.client.exceptions import ApiException

from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_cluster import create_pod, foreign_pod, wait_gone

pytestmark = pytest.mark.cluster

RANK0, RANK1 = "job-3f2a9c1e7b4d-0", "job-3f2a9c1e7b4d-1"


def _pods(cluster) -> set[tuple[str, str, bool]]:
    """Every pod of the test's namespaces: (namespace, name, being deleted)."""
    _, body = cluster.request("GET", "/api/v1/pods")
    return {
        (pod["metadata"]["namespace"], pod["metadata"]["name"], "deletionTimestamp" in pod["metadata"])
        for pod in body["items"]
        if pod["metadata"]["namespace"].startswith(cluster.prefix)
    }


def test_it_deletes_the_jobs_pods_and_service_and_nothing_else(
    cluster, cluster_backend, org_namespace, audit
):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    other = b.other_job_id()
    other_hex = other.replace("-", "")[:12]
    cluster_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))
    cluster_backend.bind(b.spec([("gpu-a", (2, 3)), ("gpu-b", (2, 3))], job_id=other))
    research = f"{cluster.prefix}research"
    create_pod(cluster, research, foreign_pod("notebook", "gpu-a", 1))
    for namespace, pod in ((org_namespace, RANK0), (org_namespace, RANK1), (research, "notebook")):
        cluster.wait_pod_phase(namespace, pod, "Running")

    cluster_backend.stop(b.JOB_ID, "cancelled")

    # Running pods are deleted gracefully: their kubelet stops them, then they are gone.
    for pod in (RANK0, RANK1):
        wait_gone(cluster, f"/api/v1/namespaces/{org_namespace}/pods/{pod}")
    assert _pods(cluster) == {
        (org_namespace, f"job-{other_hex}-0", False),
        (org_namespace, f"job-{other_hex}-1", False),
        (research, "notebook", False),
    }
    assert cluster.get(f"/api/v1/namespaces/{org_namespace}/services/job-3f2a9c1e7b4d") is None
    assert cluster.get(f"/api/v1/namespaces/{org_namespace}/services/job-{other_hex}") is not None
    (pods_listing,) = audit.calls("list", "pods")
    assert (
        pods_listing.namespace == "" and pods_listing.query["labelSelector"] == f"gpugrant.io/job={b.JOB_ID}"
    )
    assert sorted((call.resource, call.name, call.code) for call in audit.calls("delete")) == [
        ("pods", RANK0, 200),
        ("pods", RANK1, 200),
        ("services", "job-3f2a9c1e7b4d", 200),
    ]


def test_stopping_twice_or_a_job_that_never_ran_is_fine(cluster, cluster_backend, audit):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.spec())

    cluster_backend.stop(b.JOB_ID, "cancelled")
    cluster.wait_for(lambda: cluster.pods() == [], "the kubelet (kwok) to finish the deletion")
    cluster_backend.stop(b.JOB_ID, "cancelled")
    cluster_backend.stop(b.other_job_id(), "preempted")

    assert len(audit.calls("delete", "pods")) == 1


def test_a_pod_that_vanishes_between_list_and_delete_is_fine(
    cluster, cluster_backend, org_namespace, audit, monkeypatch
):
    cluster_backend.bind(b.spec())
    delete = cluster_backend._core.delete_namespaced_pod

    def someone_else_first(name, namespace, **options):
        # The race, made certain: someone deletes the pod after the backend listed it.
        cluster.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0")
        return delete(name, namespace, **options)

    monkeypatch.setattr(cluster_backend._core, "delete_namespaced_pod", someone_else_first)

    cluster_backend.stop(b.JOB_ID, "cancelled")

    assert [(call.name, call.code) for call in audit.calls("delete", "pods")] == [(RANK0, 404)]


def test_other_failures_propagate_so_the_sweep_retries_the_stop(
    cluster, cluster_backend, org_namespace, admission
):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.spec())
    admission.fail_pods("DELETE")

    with pytest.raises(ApiException) as failure:
        cluster_backend.stop(b.JOB_ID, "cancelled")
    assert failure.value.status == 500
    assert [pod["metadata"]["name"] for pod in cluster.pods()] == [RANK0]

    admission.restore()
    cluster_backend.stop(b.JOB_ID, "cancelled")
    cluster.wait_for(lambda: cluster.pods() == [], "the kubelet (kwok) to finish the deletion")
