"""Tenants' jobs on Kubernetes cannot reach each other or the service: checked on the real API server.

Pod Security admission ("restricted", enforced on every organisation's namespace) is the real server's own;
the NetworkPolicies are the ones the server stores, evaluated as the API defines them
(tests/deploy/policy_evaluator.py): there is no CNI here to enforce them.
"""

import dataclasses

import pytest

from scheduler.backends import k8s_manifests as m
from scheduler.backends.base import BindError
from scheduler.backends.kubernetes import KubernetesBackend
from tests.deploy.manifests import of_kind, rendered
from tests.deploy.policy_evaluator import External, Pod, allowed
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_cluster import scheduler_account_without

pytestmark = pytest.mark.cluster

OTHER_ORGANISATION = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
PORTAL_DATABASE = External("10.200.0.15")  # a managed PostgreSQL, broker or Redis on a private address
KUBERNETES_API = External("10.96.0.1")  # the `kubernetes` Service
NODE = External("192.168.10.2")  # a node: its kubelet, and the API server on a control-plane node
INTERNET = External("203.0.113.7")


def _backend(cluster) -> KubernetesBackend:
    return KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10)


def _namespace(cluster, organisation: str = b.ORGANISATION_ID) -> str:
    return m.namespace_name(organisation, cluster.prefix)


def _pod_that(namespace: str, name: str, **spec) -> dict:
    """A pod that meets "restricted" except for what ``spec`` overrides (``container``: its security context)."""
    container_context = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    container_context.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "main", "image": "busybox:1", "securityContext": container_context}],
            **spec,
        },
    }


@pytest.fixture
def job_namespace(cluster):
    """An organisation's namespace made by a real bind of one of its jobs."""
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    _backend(cluster).bind(b.spec([("gpu-a", (0, 1))]))
    return _namespace(cluster)


@pytest.mark.parametrize(
    ("breach", "spec"),
    [
        ("runs as root", {"securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}}),
        ("is privileged", {"container": {"privileged": True, "allowPrivilegeEscalation": True}}),
        ("escalates privileges", {"container": {"allowPrivilegeEscalation": True}}),
        ("adds a capability", {"container": {"capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}}}),
        ("uses the host's network", {"hostNetwork": True}),
        ("mounts a host path", {"volumes": [{"name": "host", "hostPath": {"path": "/var/lib/gpugrant"}}]}),
    ],
)
def test_the_api_server_refuses_a_pod_that_breaks_the_restricted_standard_in_an_organisations_namespace(
    cluster, job_namespace, breach, spec
):
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{job_namespace}/pods", _pod_that(job_namespace, "breach", **spec)
    )

    assert status == 403, (breach, body)
    assert 'violates PodSecurity "restricted:latest"' in body["message"]


def test_gpugrants_own_pods_are_admitted_under_it_without_a_token_or_root(cluster, job_namespace):
    status, _ = cluster.request(
        "POST", f"/api/v1/namespaces/{job_namespace}/pods", _pod_that(job_namespace, "compliant")
    )
    assert status == 201  # the standard itself admits a compliant pod; the bind's pod was one too
    (job_pod,) = [pod for pod in cluster.pods() if pod["metadata"]["namespace"] == job_namespace]

    spec = job_pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0
    assert spec["automountServiceAccountToken"] is False
    assert not [volume for volume in spec.get("volumes", []) if "projected" in volume]  # no API token


def _policies(cluster) -> list[dict]:
    _, body = cluster.request("GET", "/apis/networking.k8s.io/v1/networkpolicies")
    return body["items"]


def test_jobs_reach_neither_the_service_nor_the_api_nor_other_organisations_and_only_their_own_reach_them(
    cluster,
):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    backend = _backend(cluster)
    backend.bind(b.spec([("gpu-a", (0, 1))]))
    other_spec = b.spec([("gpu-b", (0, 1))], job_id=b.other_job_id())
    backend.bind(dataclasses.replace(other_spec, organisation_id=OTHER_ORGANISATION))
    # The service's own policies (deploy/) and the organisations' (as the server stores them), together.
    policies = of_kind(rendered("production"), "NetworkPolicy") + _policies(cluster)
    job = Pod(_namespace(cluster), {"app.kubernetes.io/managed-by": "gpugrant", "gpugrant.io/rank": "0"})
    sibling = Pod(job.namespace, {"app.kubernetes.io/managed-by": "gpugrant", "gpugrant.io/rank": "1"})
    other_tenant = Pod(_namespace(cluster, OTHER_ORGANISATION), {"app.kubernetes.io/managed-by": "gpugrant"})
    portal = Pod("gpugrant", {"app.kubernetes.io/name": "gpugrant", "app.kubernetes.io/component": "portal"})
    dns = Pod("kube-system", {"k8s-app": "kube-dns"})

    assert allowed(policies, job, sibling, 29500) and allowed(policies, sibling, job, 29500)  # rendezvous
    assert allowed(policies, job, dns, 53, "UDP")
    assert allowed(policies, job, INTERNET, 443)  # datasets, package mirrors (GPUGRANT_K8S_JOB_INTERNET)
    for target, port in [(portal, 8000), (PORTAL_DATABASE, 5432), (PORTAL_DATABASE, 5672),
                         (PORTAL_DATABASE, 6379), (KUBERNETES_API, 443), (NODE, 6443), (NODE, 10250),
                         (other_tenant, 29500)]:  # fmt: skip
        assert not allowed(policies, job, target, port), (target, port)
    assert not allowed(policies, other_tenant, job, 29500)  # and nobody else's pods reach in
    assert not allowed(policies, portal, job, 29500)


def test_without_internet_egress_a_job_reaches_only_its_organisation_and_dns(cluster, settings):
    settings.GPUGRANT_K8S_JOB_INTERNET = False
    cluster.add_gpu_nodes("gpu-a")
    _backend(cluster).bind(b.spec([("gpu-a", (0, 1))]))
    job = Pod(_namespace(cluster), {"app.kubernetes.io/managed-by": "gpugrant"})

    assert not allowed(_policies(cluster), job, INTERNET, 443)
    assert allowed(_policies(cluster), job, Pod("kube-system", {"k8s-app": "kube-dns"}), 53, "UDP")


def test_a_policy_someone_loosened_is_restored_by_the_next_process_to_bind_there(
    cluster, job_namespace, settings
):
    path = f"/apis/networking.k8s.io/v1/namespaces/{job_namespace}/networkpolicies/{m.TENANT_POLICY_NAME}"
    loosened = {"spec": {"egress": [{}], "ingress": [{}]}}  # anything to and from anywhere
    status, _ = cluster.request("PATCH", path, loosened, content_type="application/merge-patch+json")
    assert status == 200

    _backend(cluster).bind(b.spec([("gpu-b", (0, 1))], job_id=b.other_job_id()))

    restored = cluster.get(path)["spec"]
    wanted = m.tenant_policy_manifest(
        job_namespace, internet=True, egress_except=tuple(settings.GPUGRANT_K8S_JOB_EGRESS_EXCEPT)
    )["spec"]
    assert restored["ingress"] == wanted["ingress"] and restored["egress"] == wanted["egress"]


def test_no_pod_starts_where_the_policy_cannot_be_made(cluster):
    cluster.add_gpu_nodes("gpu-a")
    without = scheduler_account_without(
        cluster, "no-policies", lambda rule: "networkpolicies" in rule["resources"]
    )

    with (
        without as (account, _),
        pytest.raises(BindError, match="apply network policy in .*: 403 .*forbidden"),
    ):
        KubernetesBackend(api_client=cluster.api_client(account), qps=0, burst=10).bind(
            b.spec([("gpu-a", (0, 1))])
        )

    assert cluster.pods() == []  # fails closed: an unisolated namespace gets no pods


def test_the_sessions_proxy_reaches_a_session_on_its_port_and_nothing_else_reaches_it(cluster):
    cluster.add_gpu_nodes("gpu-a")
    backend = _backend(cluster)
    backend.bind(b.spec([("gpu-a", (0, 1))], job_id=b.other_job_id()))
    backend.bind(b.session_spec("gpu-a", (2,)))
    other_spec = b.spec([("gpu-a", (3,))], job_id=b.other_job_id(), gpus_per_pod=1)
    backend.bind(dataclasses.replace(other_spec, organisation_id=OTHER_ORGANISATION))
    policies = of_kind(rendered("production"), "NetworkPolicy") + _policies(cluster)
    session_labels = {"app.kubernetes.io/managed-by": "gpugrant", "gpugrant.io/session": "true"}
    session = Pod(_namespace(cluster), session_labels)
    job = Pod(_namespace(cluster), {"app.kubernetes.io/managed-by": "gpugrant", "gpugrant.io/rank": "0"})
    other_tenant = Pod(_namespace(cluster, OTHER_ORGANISATION), {"app.kubernetes.io/managed-by": "gpugrant"})
    proxy = Pod("gpugrant", {"app.kubernetes.io/name": "gpugrant", "app.kubernetes.io/component": "sessions"})
    portal = Pod("gpugrant", {"app.kubernetes.io/name": "gpugrant", "app.kubernetes.io/component": "portal"})
    worker = Pod("gpugrant", {"app.kubernetes.io/name": "gpugrant", "app.kubernetes.io/component": "worker"})

    assert allowed(policies, proxy, session, 8888)
    assert not allowed(policies, proxy, session, 29500)  # its port only
    assert not allowed(policies, proxy, job, 8888)  # sessions only
    assert not allowed(policies, portal, session, 8888)  # the proxy is its own Deployment, not the portal
    assert not allowed(policies, worker, session, 8888)
    assert not allowed(policies, other_tenant, session, 8888)
    assert allowed(policies, job, session, 8888)  # the organisation's own pods, as for any of its pods
    names = {policy["metadata"]["name"] for policy in _policies(cluster)}
    assert m.SESSION_POLICY_NAME in names
    other_namespace = [
        p for p in _policies(cluster) if p["metadata"]["namespace"] == _namespace(cluster, OTHER_ORGANISATION)
    ]
    assert [p["metadata"]["name"] for p in other_namespace] == [m.TENANT_POLICY_NAME]  # no session there
