"""KubernetesBackend.bind() over real HTTP: what it creates, in which order, and how it cleans up on failure."""

import pytest

from scheduler.backends import k8s_manifests as m
from scheduler.backends.base import BindError
from scheduler.backends.kubernetes import KubernetesBackend
from tests.scheduler.backends import k8s_builders as b

NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp")


def _as_sent(obj: dict) -> dict:
    """A stored object without what the server adds (metadata stamps, status)."""
    metadata = {key: value for key, value in obj["metadata"].items() if key not in SERVER_FIELDS}
    return {**{key: value for key, value in obj.items() if key != "status"}, "metadata": metadata}


def _creates(fake_api) -> list[tuple[str, str]]:
    return [(r.resource, r.name or "") for r in fake_api.requests if r.verb == "create"]


def test_it_creates_the_namespace_then_pods_exactly_as_built(fake_api, k8s_backend):
    spec = b.spec([("gpu-a", (0, 1))])

    k8s_backend.bind(spec)

    expected = m.job_manifests(spec, "gpugrant-")
    (pod,) = fake_api.pods()
    assert _as_sent(pod) == expected.pods[0]
    assert _as_sent(fake_api.get("namespaces", NAMESPACE)) == expected.namespace
    assert pod["status"] == {"phase": "Pending"}
    assert "nodeName" not in pod["spec"]
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert [(r.resource, r.namespace) for r in fake_api.requests if r.verb == "create"] == [
        ("namespaces", ""),
        ("pods", NAMESPACE),
    ]


def test_a_multi_pod_job_gets_its_headless_service_before_its_pods(fake_api, k8s_backend):
    spec = b.spec([("gpu-a", (0, 1)), ("gpu-b", (4, 5))])

    k8s_backend.bind(spec)

    service = fake_api.get("services", "job-3f2a9c1e7b4d", NAMESPACE)
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"gpugrant.io/job": b.JOB_ID}
    assert [(r.resource) for r in fake_api.requests if r.verb == "create"] == [
        "namespaces",
        "services",
        "pods",
        "pods",
    ]
    pods = fake_api.pods()
    assert [m.pinned_node(pod) for pod in pods] == ["gpu-a", "gpu-b"]
    assert all(
        pod["metadata"]["labels"]["gpugrant.io/job"] == b.JOB_ID for pod in pods
    )  # what the Service selects
    masters = {
        env["value"]
        for pod in pods
        for env in pod["spec"]["containers"][0]["env"]
        if env["name"] == "MASTER_ADDR"
    }
    assert masters == {f"job-3f2a9c1e7b4d-0.job-3f2a9c1e7b4d.{NAMESPACE}.svc"}


def test_binding_the_same_job_again_is_a_no_op(fake_api, k8s_backend):
    spec = b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))])
    k8s_backend.bind(spec)
    before = fake_api.pods()

    k8s_backend.bind(spec)  # every create answers 409: already there

    assert fake_api.pods() == before
    assert len(fake_api.requests_for("create", "pods")) == 4
    assert [r.name for r in fake_api.requests_for("get", "pods")] == [
        "job-3f2a9c1e7b4d-0",
        "job-3f2a9c1e7b4d-1",
    ]


def test_a_leftover_pod_from_an_earlier_run_on_another_node_fails_the_bind_and_is_removed(
    fake_api, k8s_backend
):
    k8s_backend.bind(b.spec([("gpu-a", (0, 1))]))

    with pytest.raises(BindError, match="pinned to node 'gpu-a' from an earlier run") as failure:
        k8s_backend.bind(b.spec([("gpu-b", (0, 1))]))  # requeued and placed elsewhere
    assert failure.value.counts_as_requeue is False  # leftovers are not the job's fault

    assert fake_api.pods() == []  # the retry after requeue can succeed
    k8s_backend.bind(b.spec([("gpu-b", (0, 1))]))
    assert [m.pinned_node(pod) for pod in fake_api.pods()] == ["gpu-b"]


def test_a_finished_pod_of_the_same_name_is_not_taken_for_a_running_one(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    fake_api.set_pod_status(NAMESPACE, "job-3f2a9c1e7b4d-0", phase="Failed", node_name="gpu-a")

    with pytest.raises(BindError, match=r"already finished \(Failed\)"):
        k8s_backend.bind(b.spec())


def test_an_object_the_server_finds_invalid_gives_bind_error_with_its_message(fake_api, k8s_backend):
    spec = b.spec([("gpu-a", (0,)), ("gpu-b", (0,))])
    spec = spec.__class__(**{**spec.__dict__, "allocation_id": "a" * 70})  # too long for a label value

    with pytest.raises(BindError) as raised:
        k8s_backend.bind(spec)

    assert "422" in str(raised.value)
    assert 'Service "job-3f2a9c1e7b4d" is invalid: metadata.labels: invalid value' in str(raised.value)
    assert fake_api.pods() == [] and fake_api.get("services", "job-3f2a9c1e7b4d", NAMESPACE) is None


def test_a_422_on_a_later_pod_deletes_what_the_bind_created(fake_api, k8s_backend):
    fake_api.fail(
        "create", "pods", 422, name="job-3f2a9c1e7b4d-1", message='Pod "job-3f2a9c1e7b4d-1" is invalid'
    )

    with pytest.raises(BindError, match='422 Pod "job-3f2a9c1e7b4d-1" is invalid'):
        k8s_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))

    assert fake_api.pods() == []
    assert fake_api.get("services", "job-3f2a9c1e7b4d", NAMESPACE) is None
    assert fake_api.get("namespaces", NAMESPACE) is not None  # shared by the organisation's jobs: kept
    assert {r.name for r in fake_api.requests_for("delete", "pods")} == {
        "job-3f2a9c1e7b4d-0",
        "job-3f2a9c1e7b4d-1",
    }


@pytest.mark.parametrize(
    ("verb_resource", "status"), [(("create", "services"), 403), (("create", "pods"), 500)]
)
def test_a_refused_or_failed_create_gives_bind_error_and_leaves_nothing(
    fake_api, k8s_backend, verb_resource, status
):
    fake_api.fail(*verb_resource, status, message="quota says no")

    with pytest.raises(BindError, match=f"{status} quota says no"):
        k8s_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))

    assert fake_api.pods() == []
    assert fake_api.get("services", "job-3f2a9c1e7b4d", NAMESPACE) is None


def test_a_forbidden_namespace_gives_bind_error_before_anything_else(fake_api, k8s_backend):
    fake_api.fail("create", "namespaces", 403, message='namespaces is forbidden: User "x" cannot create')

    with pytest.raises(BindError, match="create namespace .*: 403 namespaces is forbidden"):
        k8s_backend.bind(b.spec())

    assert _creates(fake_api) == [("namespaces", "")]


def test_an_unreachable_server_gives_bind_error(fake_api, settings):
    fake_api.stop()
    k8s_backend = KubernetesBackend(host=fake_api.url, qps=0, burst=1, request_timeout=(1.0, 1.0))

    with pytest.raises(BindError):
        k8s_backend.bind(b.spec())


def test_an_unusable_spec_gives_bind_error_without_calling_the_server(fake_api, k8s_backend):
    with pytest.raises(BindError, match="badly formed"):
        k8s_backend.bind(b.spec(job_id="not-a-uuid"))

    assert fake_api.requests == []
