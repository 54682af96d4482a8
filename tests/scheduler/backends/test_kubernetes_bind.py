"""KubernetesBackend.bind() against the real control plane: what it creates and in which order (the audit
log), and how it cleans up when the server refuses or fails a request."""

import dataclasses

import pytest

from scheduler.backends import k8s_manifests as m
from scheduler.backends.base import BindError
from scheduler.backends.kubernetes import KubernetesBackend
from tests.cluster.controlplane import free_port
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_cluster import (
    AuditTrail,
    ensure_namespace,
    missing_from,
    scheduler_account_without,
    wait_gone,
    wait_scheduled,
)

pytestmark = pytest.mark.cluster

RANK0, RANK1 = "job-3f2a9c1e7b4d-0", "job-3f2a9c1e7b4d-1"
SERVICE = "job-3f2a9c1e7b4d"


def _pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def _service(cluster, namespace: str) -> dict | None:
    return cluster.get(f"/api/v1/namespaces/{namespace}/services/{SERVICE}")


def _creates(audit) -> list[tuple[str, int]]:
    return [(call.resource, call.code) for call in audit.calls("create")]


def test_it_creates_the_namespace_then_pods_exactly_as_built(cluster, cluster_backend, org_namespace, audit):
    spec = b.spec([("gpu-a", (0, 1))])

    cluster_backend.bind(spec)

    expected = m.job_manifests(spec, cluster.prefix)
    pod = cluster.get(_pod_path(org_namespace, RANK0))
    assert missing_from(pod, expected.pods[0]) == []  # the server kept every field as sent
    assert missing_from(cluster.get(f"/api/v1/namespaces/{org_namespace}"), expected.namespace) == []
    # gpugrant binds it itself: bound to its node at creation, whether or not that node exists yet.
    assert pod["spec"]["nodeName"] == "gpu-a" and pod["status"]["phase"] == "Pending"
    assert [(call.resource, call.namespace, call.code) for call in audit.calls("create")] == [
        ("namespaces", "", 201),
        ("networkpolicies", org_namespace, 201),  # the organisation's isolation, before any pod
        ("pods", org_namespace, 201),
    ]


def test_with_kube_scheduler_binding_the_pods_wait_unbound_until_it_places_them_where_pinned(
    cluster, org_namespace, settings
):
    settings.GPUGRANT_K8S_BINDING = "kube-scheduler"
    backend = KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10)
    offset = cluster.audit_offset()

    backend.bind(b.spec([("gpu-b", (0, 1))]))
    assert "nodeName" not in cluster.get(_pod_path(org_namespace, RANK0))["spec"]  # no node gpu-b yet
    cluster.add_gpu_nodes("gpu-a", "gpu-b", "gpu-c")

    assert wait_scheduled(cluster, org_namespace, RANK0) == "gpu-b"  # the one node its affinity allows
    events, _ = cluster.audit_events(offset)
    binders = {
        e["user"]["username"]
        for e in events
        if e["verb"] == "create" and e.get("objectRef", {}).get("subresource") == "binding"
    }
    assert binders == {"system:kube-scheduler"}


def test_a_multi_pod_job_gets_its_headless_service_before_its_pods(
    cluster, cluster_backend, org_namespace, audit
):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")

    cluster_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (4, 5))]))

    service = _service(cluster, org_namespace)
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"gpugrant.io/job": b.JOB_ID}
    assert _creates(audit) == [
        ("namespaces", 201),
        ("networkpolicies", 201),
        ("services", 201),
        ("pods", 201),
        ("pods", 201),
    ]
    # kube-scheduler places each pod on the node its affinity names.
    assert [wait_scheduled(cluster, org_namespace, name) for name in (RANK0, RANK1)] == ["gpu-a", "gpu-b"]
    masters = {
        env["value"]
        for pod in cluster.pods()
        for env in pod["spec"]["containers"][0]["env"]
        if env["name"] == "MASTER_ADDR"
    }
    assert masters == {f"{RANK0}.{SERVICE}.{org_namespace}.svc"}

    # Cluster DNS answers MASTER_ADDR from the Service's endpoints, which must name each pod by its hostname.
    def endpoint_hostnames():
        slices = cluster.get(
            f"/apis/discovery.k8s.io/v1/namespaces/{org_namespace}/endpointslices"
            f"?labelSelector=kubernetes.io/service-name%3D{SERVICE}"
        )
        return {e.get("hostname") for s in slices["items"] for e in s.get("endpoints") or []}

    cluster.wait_for(lambda: endpoint_hostnames() == {RANK0, RANK1}, "both ranks in the Service's endpoints")


def test_binding_the_same_job_again_is_a_no_op(cluster, cluster_backend, org_namespace, audit):
    spec = b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))])
    cluster_backend.bind(spec)
    before = [pod["metadata"]["uid"] for pod in cluster.pods()]
    audit.restart()

    cluster_backend.bind(spec)

    assert [pod["metadata"]["uid"] for pod in cluster.pods()] == before
    # The namespace is known to exist now; every other create answers 409, and each existing pod is read
    # back to check it is this job's.
    assert [(call.verb, call.resource, call.name, call.code) for call in audit.calls()] == [
        ("create", "services", SERVICE, 409),
        ("create", "pods", RANK0, 409),
        ("get", "pods", RANK0, 200),
        ("create", "pods", RANK1, 409),
        ("get", "pods", RANK1, 200),
    ]


def test_a_namespace_once_seen_is_not_created_again_until_a_bind_finds_it_gone(
    cluster, cluster_backend, org_namespace, audit
):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.spec())
    cluster_backend.bind(b.spec(job_id=b.other_job_id()))  # the same organisation: no namespace create
    another_worker = KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10)
    another_worker.bind(b.spec(job_id=b.other_job_id()))  # a process of its own asks once, gets 409
    assert [(call.verb, call.resource, call.code) for call in audit.calls()] == [
        ("create", "namespaces", 201),
        ("create", "networkpolicies", 201),
        ("create", "pods", 201),
        ("create", "pods", 201),
        ("create", "namespaces", 409),
        ("create", "networkpolicies", 409),
        ("patch", "networkpolicies", 200),  # brought up to date, whatever an earlier version made
        ("create", "pods", 201),
    ]
    cluster.plane.request("DELETE", f"/api/v1/namespaces/{org_namespace}/pods?gracePeriodSeconds=0")
    cluster.plane.request("DELETE", f"/api/v1/namespaces/{org_namespace}")
    wait_gone(cluster, f"/api/v1/namespaces/{org_namespace}")  # the namespace controller emptied it
    audit.restart()

    with pytest.raises(BindError, match="404"):
        cluster_backend.bind(b.spec())  # it believed the namespace was there
    cluster_backend.bind(b.spec())  # and now asks for it again

    assert [(call.resource, call.code) for call in audit.calls("create")] == [
        ("pods", 404),
        ("namespaces", 201),
        ("networkpolicies", 201),
        ("pods", 201),
    ]


def test_a_leftover_pod_from_an_earlier_run_on_another_node_fails_the_bind_and_is_removed(
    cluster, cluster_backend, org_namespace
):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    cluster_backend.bind(b.spec([("gpu-a", (0, 1))]))
    cluster.wait_pod_phase(org_namespace, RANK0, "Running")

    with pytest.raises(BindError, match="pinned to node 'gpu-a' from an earlier run") as failure:
        cluster_backend.bind(b.spec([("gpu-b", (0, 1))]))  # requeued and placed elsewhere
    assert failure.value.counts_as_requeue is False  # leftovers are not the job's fault

    wait_gone(cluster, _pod_path(org_namespace, RANK0))  # deleted; gone once its kubelet has stopped it
    cluster_backend.bind(b.spec([("gpu-b", (0, 1))]))  # so the retry after requeue succeeds
    assert wait_scheduled(cluster, org_namespace, RANK0) == "gpu-b"


def test_a_finished_pod_of_the_same_name_is_not_taken_for_a_running_one(
    cluster, cluster_backend, org_namespace
):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.spec())
    cluster.wait_pod_phase(org_namespace, RANK0, "Running")
    cluster.exit_pod(org_namespace, RANK0, 1)
    cluster.wait_pod_phase(org_namespace, RANK0, "Failed")

    with pytest.raises(BindError, match=r"already finished \(Failed\)"):
        cluster_backend.bind(b.spec())


def test_an_object_the_server_finds_invalid_gives_bind_error_with_its_message(
    cluster, cluster_backend, org_namespace
):
    spec = dataclasses.replace(b.spec([("gpu-a", (0,)), ("gpu-b", (0,))]), allocation_id="a" * 70)

    with pytest.raises(BindError) as raised:
        cluster_backend.bind(spec)  # a label value longer than 63 characters

    assert f'422 Service "{SERVICE}" is invalid: metadata.labels: Invalid value: "{"a" * 70}"' in str(
        raised.value
    )
    assert cluster.pods() == [] and _service(cluster, org_namespace) is None


def test_a_422_on_a_later_pod_deletes_what_the_bind_created(
    cluster, cluster_backend, org_namespace, admission, audit
):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")  # their kubelet (kwok) confirms the deletion of rank 0
    admission.refuse_create("pods", RANK1, "rank 1 may not run here")

    with pytest.raises(
        BindError, match=f'422 pods "{RANK1}" is forbidden: .* denied request: rank 1 may not'
    ):
        cluster_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))

    wait_gone(cluster, _pod_path(org_namespace, RANK0))
    assert cluster.pods() == [] and _service(cluster, org_namespace) is None
    assert cluster.get(f"/api/v1/namespaces/{org_namespace}") is not None  # shared by the organisation's jobs
    # Every object of the job is deleted by name, whether or not this attempt got to create it.
    assert [(call.resource, call.name, call.code) for call in audit.calls("delete")] == [
        ("pods", RANK0, 200),
        ("pods", RANK1, 404),
        ("services", SERVICE, 200),
    ]


def test_a_quota_that_refuses_the_service_gives_bind_error_and_leaves_nothing(
    cluster, cluster_backend, org_namespace, audit
):
    ensure_namespace(cluster, org_namespace)  # as an administrator prepared it, with a quota of no Services
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-services", "namespace": org_namespace},
        "spec": {"hard": {"services": "0"}},
    }
    cluster.apply(quota)
    # Quota admission refuses everything in the namespace until the quota controller has counted usage.
    quota_path = f"/api/v1/namespaces/{org_namespace}/resourcequotas/no-services"
    cluster.wait_for(lambda: cluster.get(quota_path).get("status", {}).get("used"), "the quota to be counted")

    with pytest.raises(
        BindError, match=f'403 services "{SERVICE}" is forbidden: exceeded quota: no-services'
    ):
        cluster_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))

    assert _creates(audit) == [("namespaces", 409), ("networkpolicies", 201), ("services", 403)]
    assert cluster.pods() == [] and _service(cluster, org_namespace) is None


def test_a_failing_admission_webhook_gives_bind_error_and_leaves_nothing(
    cluster, cluster_backend, org_namespace, admission
):
    admission.fail_pods("CREATE")

    with pytest.raises(
        BindError, match='500 Internal error occurred: failed calling webhook "down.gpugrant.test"'
    ):
        cluster_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))

    assert (
        cluster.pods() == [] and _service(cluster, org_namespace) is None
    )  # the Service was created, then deleted


def test_a_namespace_too_new_for_pods_fails_the_bind_without_using_up_a_requeue(
    cluster, cluster_backend, org_namespace, admission
):
    # Pod admission needs the namespace's "default" ServiceAccount, which the controller manager adds a
    # moment after the namespace is made; admission waits a second or two for it, not longer (an apiserver
    # restart or a busy controller manager takes longer). Here the account is held back.
    admission.refuse_create("serviceaccounts", "default", "held back by the test")

    with pytest.raises(
        BindError, match=f'403 pods "{RANK0}" is forbidden: error looking up service account'
    ) as failure:
        cluster_backend.bind(b.spec())
    assert failure.value.counts_as_requeue is False  # the cluster's moment, not the job's fault
    assert cluster.pods() == []

    admission.restore()
    cluster.wait_for(
        lambda: cluster.get(f"/api/v1/namespaces/{org_namespace}/serviceaccounts/default"),
        "the controller manager to add the ServiceAccount",
    )
    cluster_backend.bind(b.spec())  # the next attempt, once the namespace is ready
    assert [pod["metadata"]["name"] for pod in cluster.pods()] == [RANK0]


@pytest.fixture
def account_without_namespaces(cluster):
    """A service account with the scheduler's ClusterRole less `create namespaces`, for clusters whose own
    tooling makes the organisations' namespaces (docs/kubernetes.md)."""
    with scheduler_account_without(
        cluster, "no-namespaces", lambda rule: rule["resources"] == ["namespaces"]
    ) as made:
        yield made


def test_a_namespace_the_account_may_not_create_gives_bind_error_with_the_403(
    cluster, org_namespace, account_without_namespaces
):
    account, user = account_without_namespaces
    backend = KubernetesBackend(api_client=cluster.api_client(account), qps=0, burst=10)
    audit = AuditTrail(cluster.plane, user)

    with pytest.raises(BindError, match="create namespace .*: 403 namespaces is forbidden: User"):
        backend.bind(b.spec())

    # RBAC says 403 before looking whether the namespace exists; creating the pod in it says it does not.
    assert _creates(audit) == [("namespaces", 403), ("networkpolicies", 404)]
    assert cluster.get(f"/api/v1/namespaces/{org_namespace}") is None and cluster.pods() == []


def test_a_namespace_made_by_someone_else_is_used_when_the_account_may_not_create_namespaces(
    cluster, org_namespace, account_without_namespaces
):
    account, user = account_without_namespaces
    backend = KubernetesBackend(api_client=cluster.api_client(account), qps=0, burst=10)
    audit = AuditTrail(cluster.plane, user)
    ensure_namespace(cluster, org_namespace)

    backend.bind(b.spec())

    assert _creates(audit) == [("namespaces", 403), ("networkpolicies", 201), ("pods", 201)]
    assert [pod["metadata"]["name"] for pod in cluster.pods()] == [RANK0]


def test_an_unreachable_server_gives_bind_error():
    backend = KubernetesBackend(
        host=f"https://127.0.0.1:{free_port()}", qps=0, burst=1, request_timeout=(1.0, 1.0)
    )  # a loopback port nobody listens on

    with pytest.raises(BindError, match="Connection refused"):
        backend.bind(b.spec())


def test_an_unusable_spec_gives_bind_error_without_calling_the_server(cluster_backend, audit):
    with pytest.raises(BindError, match="badly formed"):
        cluster_backend.bind(b.spec(job_id="not-a-uuid"))

    assert audit.calls() == []
