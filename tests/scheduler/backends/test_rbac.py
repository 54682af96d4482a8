"""The scheduler's service account may do exactly what the Kubernetes backend does, on the real control plane:
no more, no less.

The backend authenticates as gpugrant-scheduler (a bound token, as in its pod) with the ClusterRole that
deploy/base ships, against kube-apiserver with RBAC on: a call the role lacks is refused (403) in whichever
backend test makes it. Here one tour through every backend method (the 409 read-back and both watches
included) is read back from the audit log, and the (verb, resource) pairs it used must equal what
`kubectl auth can-i --list` says the account may do, less what every authenticated user may do.
"""

import re

import pytest
from kubernetes.client.exceptions import ApiException

from scheduler.backends import k8s_manifests as manifests
from scheduler.backends.kubernetes import KubernetesBackend
from tests.cluster.fixtures import SCHEDULER_ACCOUNT
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_watching import requests_of, wait_watching, watching

pytestmark = pytest.mark.cluster


def _can_i(cluster, account: tuple[str, str]) -> set[tuple[str, str]]:
    """(verb, resource) pairs from `kubectl auth can-i --list` as ``account``; non-resource URLs left out."""
    kubeconfig = cluster.kubeconfig_for_service_account(*account)
    table = cluster.kubectl("auth", "can-i", "--list", kubeconfig=kubeconfig).stdout
    pairs = set()
    for line in table.splitlines()[1:]:  # below the header
        if not line.strip() or line[0].isspace():  # a non-resource URL's row has no resource
            continue
        verbs = re.search(r"\[([^\]]*)\]\s*$", line).group(1).split()
        pairs |= {(verb, line.split()[0]) for verb in verbs}
    return pairs


@pytest.fixture
def everyones(cluster) -> set[tuple[str, str]]:
    """What any authenticated user may do (discovery, self reviews …): an account bound to nothing may."""
    namespace = f"{cluster.prefix}rbac"
    status, body = cluster.request("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    assert status == 201, body
    cluster.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody", "namespace": namespace}}
    )
    return _can_i(cluster, (namespace, "nobody"))


def _used(cluster, offset: int) -> set[tuple[str, str]]:
    pairs = set()
    for event in requests_of(cluster, offset):
        ref = event["objectRef"]
        group = f".{ref['apiGroup']}" if ref.get("apiGroup") else ""  # as can-i names it: resource.group
        resource = ref["resource"] + group + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        pairs.add((event["verb"], resource))
    return pairs


def _tour(cluster, backend) -> None:
    """Every backend method, and each path that makes a call of its own."""
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    cluster.write_pod_log(["step 1 loss 0.5"])
    assert [node.name for node in backend.inventory()] == ["gpu-a", "gpu-b"]
    spec = b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))])
    backend.bind(spec)
    backend.bind(spec)  # 409s: reads the existing pods back
    # Another worker process, new to the namespace: its NetworkPolicy exists (409), so it is applied.
    KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10).bind(spec)
    namespace = manifests.namespace_name(b.ORGANISATION_ID, cluster.prefix)
    cluster.wait_pod_phase(namespace, manifests.pod_name(b.JOB_ID, 0), "Running")
    assert backend.statuses([b.JOB_ID])[0].phase.value == "running"
    assert "loss 0.5" in backend.logs(b.JOB_ID, 1024)
    offset = cluster.audit_offset()
    with watching(backend):
        wait_watching(cluster, offset, "pods", "nodes")
    backend.stop(b.JOB_ID, "cancelled")
    # A session: its Secret and workspace claim, each met again (409) by a second bind, found, then stopped.
    session = b.session_spec("gpu-a", (2,), job_id=b.other_job_id())
    backend.bind(session)
    backend.bind(session)
    assert backend.session_endpoint(session.job_id)
    assert session.job_id in backend.owned_job_ids()
    backend.stop(session.job_id, "cancelled")


def test_the_cluster_role_grants_exactly_the_calls_the_backend_makes(cluster, everyones):
    backend = KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10)
    offset = cluster.audit_offset()

    _tour(cluster, backend)

    used = _used(cluster, offset)  # read before kubectl, whose own requests as the account would join them
    codes = {event["responseStatus"]["code"] for event in requests_of(cluster, offset)}
    assert 403 not in codes and 409 in codes  # nothing refused; the 409 paths were taken
    assert used == _can_i(cluster, SCHEDULER_ACCOUNT) - everyones


def test_the_real_server_refuses_what_the_role_does_not_grant(cluster):
    backend = KubernetesBackend(api_client=cluster.api_client(), qps=0, burst=10)

    with pytest.raises(ApiException) as refused:
        backend._raw("list_namespace")  # not a call the backend makes, so not granted

    assert refused.value.status == 403
    assert ("list", "namespaces") not in _can_i(cluster, SCHEDULER_ACCOUNT)
