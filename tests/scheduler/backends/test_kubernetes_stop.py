"""KubernetesBackend.stop(): delete the job's pods and Service wherever they are; idempotent."""

import pytest
from kubernetes.client.exceptions import ApiException

from tests.scheduler.backends import k8s_builders as b

NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"


def test_it_deletes_the_jobs_pods_and_service_and_nothing_else(fake_api, k8s_backend):
    other = b.other_job_id()
    k8s_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))
    k8s_backend.bind(b.spec([("gpu-a", (2, 3)), ("gpu-b", (2, 3))], job_id=other))
    fake_api.put(b.foreign_pod("notebook", "gpu-a", 1))

    k8s_backend.stop(b.JOB_ID, "cancelled")

    remaining = {(pod["metadata"]["namespace"], pod["metadata"]["name"]) for pod in fake_api.pods()}
    other_hex = other.replace("-", "")[:12]
    assert remaining == {
        (NAMESPACE, f"job-{other_hex}-0"),
        (NAMESPACE, f"job-{other_hex}-1"),
        ("research", "notebook"),
    }
    assert fake_api.get("services", "job-3f2a9c1e7b4d", NAMESPACE) is None
    assert fake_api.get("services", f"job-{other_hex}", NAMESPACE) is not None
    (pods_listing,) = fake_api.requests_for("list", "pods")
    assert (
        pods_listing.namespace == "" and pods_listing.query["labelSelector"] == f"gpugrant.io/job={b.JOB_ID}"
    )


def test_stopping_twice_or_a_job_that_never_ran_is_fine(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())

    k8s_backend.stop(b.JOB_ID, "cancelled")
    k8s_backend.stop(b.JOB_ID, "cancelled")
    k8s_backend.stop(b.other_job_id(), "preempted")

    assert fake_api.pods() == []
    assert len(fake_api.requests_for("delete", "pods")) == 1


def test_a_pod_that_vanishes_between_list_and_delete_is_fine(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    fake_api.fail("delete", "pods", 404, message='pods "job-3f2a9c1e7b4d-0" not found')

    k8s_backend.stop(b.JOB_ID, "cancelled")  # 404: someone else deleted it first


def test_other_failures_propagate_so_the_sweep_retries_the_stop(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    fake_api.fail("delete", "pods", 500, message="etcdserver: request timed out")

    with pytest.raises(ApiException):
        k8s_backend.stop(b.JOB_ID, "cancelled")

    k8s_backend.stop(b.JOB_ID, "cancelled")
    assert fake_api.pods() == []
