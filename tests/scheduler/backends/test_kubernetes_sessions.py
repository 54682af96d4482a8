"""Interactive sessions on the Kubernetes backend, against the real control plane (tests/cluster), as the
scheduler's service account: bind makes the session's pod, its ClusterIP Service, its token's Secret and
its owner's workspace claim; stop removes all but the claim, which the owner's next session mounts again.

kwok plays the kubelet and never runs a container, so JupyterLab itself never starts here: nothing
listens behind the Service, and session_endpoint() is checked as the URL it gives, not by connecting.
What is checked is what the API server stores: references, selectors, and that the token is nowhere in
the pod (read back as JSON).
"""

import base64
import json

import pytest

from scheduler.backends import k8s_manifests as manifests
from scheduler.backends.base import BindError
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_cluster import wait_gone

pytestmark = pytest.mark.cluster

POD, SERVICE, SECRET = "job-3f2a9c1e7b4d-0", "job-3f2a9c1e7b4d", "job-3f2a9c1e7b4d-session"
CLAIM = manifests.workspace_claim_name(f"{b.ORGANISATION_ID}/{b.OWNER_ID}")


def _path(namespace: str, kind: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/{kind}" + (f"/{name}" if name else "")


def test_bind_makes_the_sessions_pod_service_secret_and_workspace(cluster, cluster_backend, org_namespace):
    cluster.add_gpu_nodes("gpu-a")

    cluster_backend.bind(b.session_spec())

    pod = cluster.wait_pod_phase(org_namespace, POD, "Running")
    service = cluster.get(_path(org_namespace, "services", SERVICE))
    secret = cluster.get(_path(org_namespace, "secrets", SECRET))
    claim = cluster.get(_path(org_namespace, "persistentvolumeclaims", CLAIM))
    assert None not in (service, secret, claim)
    # The Service selects the session's pod, on the port JupyterLab listens on in it.
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["clusterIP"] not in ("", "None")
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    container = pod["spec"]["containers"][0]
    (port,) = service["spec"]["ports"]
    assert port["port"] == port["targetPort"] == 8888
    assert {"name": "jupyter", "containerPort": 8888, "protocol": "TCP"} in container["ports"]
    assert (
        "--ServerApp.port=8888" in container["command"] and "--ServerApp.ip=0.0.0.0" in container["command"]
    )
    # The token lives in the Secret and the pod refers to it; the pod, read back, holds no trace of it.
    assert secret["data"] == {"JUPYTER_TOKEN": _base64(b.SESSION_TOKEN)}
    token_variable = next(variable for variable in container["env"] if variable["name"] == "JUPYTER_TOKEN")
    assert token_variable["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": "JUPYTER_TOKEN"}
    assert b.SESSION_TOKEN not in json.dumps(pod)
    assert _base64(b.SESSION_TOKEN) not in json.dumps(pod)
    # The workspace claim is mounted at the working directory.
    (volume,) = pod["spec"]["volumes"]
    assert volume["persistentVolumeClaim"] == {"claimName": CLAIM}
    assert container["workingDir"] == "/workspace"
    assert container["volumeMounts"][0] == {"name": volume["name"], "mountPath": "/workspace"}
    # Where the proxy reaches it (a URL only: nothing listens under kwok).
    assert cluster_backend.session_endpoint(b.JOB_ID) == f"http://{SERVICE}.{org_namespace}.svc:8888"


def test_a_job_that_is_not_a_session_has_no_endpoint(cluster, cluster_backend):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    cluster_backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))  # a gang: a headless Service

    assert cluster_backend.session_endpoint(b.JOB_ID) is None
    assert cluster_backend.session_endpoint(b.other_job_id()) is None


def test_stop_removes_the_pod_service_and_secret_and_keeps_the_workspace(
    cluster, cluster_backend, org_namespace, audit
):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.session_spec())
    cluster.wait_pod_phase(org_namespace, POD, "Running")
    audit.restart()

    cluster_backend.stop(b.JOB_ID, "cancelled")

    wait_gone(cluster, _path(org_namespace, "pods", POD))
    assert cluster.get(_path(org_namespace, "services", SERVICE)) is None
    assert cluster.get(_path(org_namespace, "secrets", SECRET)) is None
    assert cluster.get(_path(org_namespace, "persistentvolumeclaims", CLAIM)) is not None
    assert cluster_backend.session_endpoint(b.JOB_ID) is None
    assert not audit.calls("list", "secrets") and not audit.calls("get", "secrets")  # never read back
    cluster_backend.stop(b.JOB_ID, "cancelled")  # idempotent


def test_the_owners_next_session_mounts_the_same_workspace(cluster, cluster_backend, org_namespace, audit):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.session_spec())
    cluster_backend.stop(b.JOB_ID, "session ended")
    first_claim = cluster.get(_path(org_namespace, "persistentvolumeclaims", CLAIM))
    audit.restart()
    second = b.other_job_id()

    cluster_backend.bind(b.session_spec("gpu-a", (1,), job_id=second, token="another-token-0123456789"))

    (pod,) = cluster.pods(f"{manifests.JOB_LABEL}={second}")
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": CLAIM}
    claim = cluster.get(_path(org_namespace, "persistentvolumeclaims", CLAIM))
    assert claim["metadata"]["uid"] == first_claim["metadata"]["uid"]  # the same claim, not a new one
    (create,) = audit.calls("create", "persistentvolumeclaims")
    assert create.code == 409
    _, claims = cluster.request("GET", _path(org_namespace, "persistentvolumeclaims"))
    assert [item["metadata"]["name"] for item in claims["items"]] == [CLAIM]


def test_another_owner_gets_a_workspace_of_their_own(cluster, cluster_backend, org_namespace):
    cluster.add_gpu_nodes("gpu-a")
    other_owner = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
    cluster_backend.bind(b.session_spec())
    cluster_backend.bind(b.session_spec("gpu-a", (1,), job_id=b.other_job_id(), owner_id=other_owner))

    _, claims = cluster.request("GET", _path(org_namespace, "persistentvolumeclaims"))
    names = sorted(item["metadata"]["name"] for item in claims["items"])
    assert names == sorted([CLAIM, manifests.workspace_claim_name(f"{b.ORGANISATION_ID}/{other_owner}")])


def test_a_second_bind_of_the_same_session_is_idempotent(cluster, cluster_backend, org_namespace):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.session_spec())
    cluster.wait_pod_phase(org_namespace, POD, "Running")

    cluster_backend.bind(b.session_spec())  # the Secret is replaced; the pod, Service and claim stand

    assert cluster.get(_path(org_namespace, "secrets", SECRET))["data"] == {
        "JUPYTER_TOKEN": _base64(b.SESSION_TOKEN)
    }
    assert len(cluster.pods(f"{manifests.JOB_LABEL}={b.JOB_ID}")) == 1


def test_a_failed_bind_leaves_no_secret_or_service_but_the_workspace(
    cluster, cluster_backend, org_namespace, admission
):
    cluster.add_gpu_nodes("gpu-a")
    admission.refuse_create("pods", POD, "no pods today")

    with pytest.raises(BindError):
        cluster_backend.bind(b.session_spec())

    assert cluster.get(_path(org_namespace, "services", SERVICE)) is None
    assert cluster.get(_path(org_namespace, "secrets", SECRET)) is None
    assert cluster.get(_path(org_namespace, "persistentvolumeclaims", CLAIM)) is not None


def test_cleaning_after_an_outage_finds_a_session_cut_short_before_its_pod(
    cluster, cluster_backend, org_namespace
):
    """A worker that died between the Service and the pod leaves a Service and a Secret and no pod:
    owned_job_ids() still names the job, and stopping it removes both."""
    cluster.add_gpu_nodes("gpu-a")
    session = manifests.job_manifests(b.session_spec(), cluster.prefix)
    cluster_backend.bind(b.spec([("gpu-a", (0, 1))], job_id=b.other_job_id()))  # makes the namespace
    for kind, obj in (("services", session.service), ("secrets", session.secret)):
        status, body = cluster.request("POST", _path(org_namespace, kind), obj)
        assert status == 201, body

    assert b.JOB_ID in cluster_backend.owned_job_ids()
    cluster_backend.stop(b.JOB_ID, "lost")

    assert cluster.get(_path(org_namespace, "services", SERVICE)) is None
    assert cluster.get(_path(org_namespace, "secrets", SECRET)) is None
    assert b.JOB_ID not in cluster_backend.owned_job_ids()


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_sessions_bind_makes_its_objects_in_order_and_its_ingress_policy_once(
    cluster, cluster_backend, org_namespace, audit
):
    cluster.add_gpu_nodes("gpu-a")

    cluster_backend.bind(b.session_spec())
    cluster_backend.bind(b.session_spec("gpu-a", (1,), job_id=b.other_job_id()))

    assert [(call.verb, call.resource, call.code) for call in audit.calls()] == [
        ("create", "namespaces", 201),
        ("create", "networkpolicies", 201),  # the tenant's isolation
        ("create", "networkpolicies", 201),  # the proxy's way in to sessions
        ("create", "services", 201),
        ("create", "secrets", 201),
        ("create", "persistentvolumeclaims", 201),
        ("create", "pods", 201),
        ("create", "services", 201),
        ("create", "secrets", 201),
        ("create", "persistentvolumeclaims", 409),  # the same owner's workspace
        ("create", "pods", 201),
    ]


def test_after_its_namespace_is_gone_a_session_asks_for_it_and_its_policies_again(
    cluster, cluster_backend, org_namespace, audit
):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.session_spec())
    cluster.plane.request("DELETE", _path(org_namespace, "pods") + "?gracePeriodSeconds=0")
    cluster.plane.request("DELETE", f"/api/v1/namespaces/{org_namespace}")
    wait_gone(cluster, f"/api/v1/namespaces/{org_namespace}")
    audit.restart()

    with pytest.raises(BindError, match="404"):
        cluster_backend.bind(b.session_spec(job_id=b.other_job_id()))  # it believed the namespace was there
    cluster_backend.bind(b.session_spec(job_id=b.other_job_id()))

    assert [(call.resource, call.code) for call in audit.calls("create")] == [
        ("services", 404),
        ("namespaces", 201),
        ("networkpolicies", 201),
        ("networkpolicies", 201),
        ("services", 201),
        ("secrets", 201),
        ("persistentvolumeclaims", 201),  # a new namespace: the workspace went with the old one
        ("pods", 201),
    ]
