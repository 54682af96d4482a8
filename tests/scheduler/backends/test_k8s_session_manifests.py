"""k8s_manifests for an interactive session: its pod, ClusterIP Service, token Secret and workspace claim,
each valid against the official Kubernetes schema (no cluster; the real one is test_kubernetes_sessions.py)."""

import json

import kubernetes_validate
import pytest

from scheduler.backends import k8s_manifests as m
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.fake_apiserver import KUBERNETES_VERSION

PREFIX = "gpugrant-"
NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"
SERVICE = "job-3f2a9c1e7b4d"
SECRET = "job-3f2a9c1e7b4d-session"


def test_every_session_object_is_valid_against_the_official_schema():
    session = m.job_manifests(b.session_spec(), PREFIX)
    objects = [session.namespace, session.service, session.secret, session.workspace, *session.pods]

    for obj in objects:
        assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) == "1.33"


def test_jupyterlab_listens_on_its_port_instead_of_a_socket():
    (pod,) = m.job_manifests(b.session_spec(), PREFIX).pods

    container = pod["spec"]["containers"][0]
    assert container["command"] == [
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.base_url=/sessions/{b.JOB_ID}/",
        "--ServerApp.port=8888",
        "--ServerApp.ip=0.0.0.0",
        "--ServerApp.root_dir=.",
    ]
    assert container["ports"] == [{"name": "jupyter", "containerPort": 8888, "protocol": "TCP"}]


def test_the_token_is_referenced_from_the_secret_and_never_written_in_the_pod():
    session = m.job_manifests(b.session_spec(), PREFIX)
    (pod,) = session.pods

    assert b.SESSION_TOKEN not in json.dumps(pod)
    env = pod["spec"]["containers"][0]["env"]
    assert {
        "name": "JUPYTER_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "JUPYTER_TOKEN"}},
    } in env
    assert session.secret["metadata"]["name"] == SECRET
    assert session.secret["stringData"] == {"JUPYTER_TOKEN": b.SESSION_TOKEN}
    assert b.SESSION_TOKEN not in json.dumps(session.secret["metadata"])


def test_a_job_environment_variable_of_a_secrets_name_gives_way_to_the_secret():
    spec = b.session_spec()
    spec = type(spec)(**{**spec.__dict__, "environment": {"JUPYTER_TOKEN": "stored-with-the-job"}})

    (pod,) = m.job_manifests(spec, PREFIX).pods

    names = [variable["name"] for variable in pod["spec"]["containers"][0]["env"]]
    assert names.count("JUPYTER_TOKEN") == 1 and "stored-with-the-job" not in json.dumps(pod)


def test_the_service_selects_the_sessions_pod_on_jupyterlabs_port():
    session = m.job_manifests(b.session_spec(), PREFIX)
    (pod,) = session.pods

    service = session.service
    assert service["metadata"]["name"] == SERVICE and service["metadata"]["namespace"] == NAMESPACE
    assert service["spec"]["type"] == "ClusterIP"  # an address of its own, unlike a gang's headless one
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [
        {"name": "jupyter", "protocol": "TCP", "port": 8888, "targetPort": 8888}
    ]
    for obj in (service, session.secret, pod):
        assert obj["metadata"]["labels"]["gpugrant.io/session"] == "true"
        assert obj["metadata"]["labels"]["gpugrant.io/job"] == b.JOB_ID
    assert m.session_url(SERVICE, NAMESPACE) == f"http://{SERVICE}.{NAMESPACE}.svc:8888"


def test_the_workspace_is_the_owners_claim_mounted_as_the_working_directory():
    session = m.job_manifests(b.session_spec(), PREFIX)
    (pod,) = session.pods

    claim = session.workspace
    assert claim["metadata"]["name"] == m.workspace_claim_name(f"{b.ORGANISATION_ID}/{b.OWNER_ID}")
    assert "gpugrant.io/job" not in claim["metadata"]["labels"]  # outlives every session: no job selects it
    assert claim["metadata"]["labels"]["gpugrant.io/workspace-user"] == b.OWNER_ID
    assert claim["metadata"]["annotations"]["gpugrant.io/workspace"] == f"{b.ORGANISATION_ID}/{b.OWNER_ID}"
    assert pod["spec"]["volumes"] == [
        {"name": "workspace", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    ]
    container = pod["spec"]["containers"][0]
    assert container["workingDir"] == "/workspace"
    assert container["volumeMounts"] == [{"name": "workspace", "mountPath": "/workspace"}]
    assert pod["spec"]["securityContext"]["fsGroup"] == 1000  # the job's uid may write its notebooks


def test_the_claim_name_is_stable_per_owner_and_differs_between_owners():
    other_owner = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
    first = m.job_manifests(b.session_spec(), PREFIX).workspace["metadata"]["name"]
    again = m.job_manifests(b.session_spec(job_id=b.other_job_id()), PREFIX).workspace["metadata"]["name"]
    other = m.job_manifests(b.session_spec(owner_id=other_owner), PREFIX).workspace["metadata"]["name"]

    assert first == again != other
    assert len(first) <= 63


def test_an_ordinary_job_gets_no_session_objects():
    job = m.job_manifests(b.spec(), PREFIX)

    assert job.secret is None and job.workspace is None and job.service is None
    assert "gpugrant.io/session" not in job.pods[0]["metadata"]["labels"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workspace": "not-a-key"}, "not a workspace key"),
        ({"workspace": f"{b.ORGANISATION_ID}/../etc"}, "not a workspace key"),
        ({"command": ("jupyter", "lab", "--notebook-dir={session_socket}")}, "--ServerApp.sock="),
    ],
)
def test_it_refuses_a_session_it_cannot_run(change, message):
    spec = b.session_spec()
    spec = type(spec)(**{**spec.__dict__, **change})

    with pytest.raises(ValueError, match=message):
        m.job_manifests(spec, PREFIX)


def test_a_session_runs_in_one_pod():
    spec = b.session_spec()
    two = b.spec([("gpu-a", (0,)), ("gpu-b", (0,))])
    spec = type(spec)(**{**spec.__dict__, "pods": two.pods})

    with pytest.raises(ValueError, match="one pod"):
        m.job_manifests(spec, PREFIX)


def test_the_session_ingress_policy_is_valid_and_admits_the_sessions_proxy_on_jupyterlabs_port_only():
    policy = m.session_policy_manifest(NAMESPACE)

    assert kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True) == "1.33"
    assert policy["spec"]["podSelector"] == {"matchLabels": {"gpugrant.io/session": "true"}}
    assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress stays the tenant policy's
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8888}]
    (source,) = rule["from"]
    assert source["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "gpugrant"}}
    # The sessions' proxy Deployment (deploy/base/sessions.yaml), not the portal's pods.
    assert source["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "gpugrant", "app.kubernetes.io/component": "sessions"}
    }
