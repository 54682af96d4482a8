"""The NetworkPolicies allow exactly the flows gpugrant needs, evaluated the way the API defines them
(tests/deploy/policy_evaluator.py)."""

import pytest

from scheduler.backends import k8s_manifests
from tests.deploy.manifests import OVERLAYS, component, of_kind, rendered, workloads
from tests.deploy.policy_evaluator import External, Pod, allowed

INGRESS_CONTROLLER = Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
DNS = Pod("kube-system", {"k8s-app": "kube-dns"})
OPERATOR_RUN_POSTGRESQL = Pod("databases", {"cnpg.io/cluster": "gpugrant"})
A_JOB = Pod("gpugrant-3f2a9c1e-7b4d-4e8a-9c6f-1a2b3c4d5e6f", {"app.kubernetes.io/managed-by": "gpugrant"})
A_SESSION = Pod(A_JOB.namespace, {**A_JOB.labels, "gpugrant.io/session": "true"})
OTHER_ORGANISATIONS_JOB = Pod("gpugrant-7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", A_JOB.labels)
MANAGED_SERVICE = External("10.200.0.15")
API_SERVER = External("192.168.10.2")
INTERNET = External("203.0.113.7")


def _gpugrant_pods(objects) -> dict[str, Pod]:
    return {
        component(obj): Pod(obj["metadata"]["namespace"], obj["spec"]["template"]["metadata"]["labels"])
        for obj in workloads(objects)
    }


# (source, destination, port): what each component must be able to reach, and what it must not.
REQUIRED = [
    (INGRESS_CONTROLLER, "portal", 8000),
    (INGRESS_CONTROLLER, "sessions", 8000),
    ("node-agent", "portal", 8000),
    (PROMETHEUS, "portal", 8000),
    *[
        (name, MANAGED_SERVICE, 5432)
        for name in ("portal", "sessions", "worker", "scheduler-watch", "migrate")
    ],
    ("worker", OPERATOR_RUN_POSTGRESQL, 5432),
    *[(name, MANAGED_SERVICE, 5672) for name in ("portal", "worker", "beat", "scheduler-watch")],
    *[(name, MANAGED_SERVICE, 6379) for name in ("portal", "worker", "scheduler-watch")],
    ("worker", INTERNET, 587),
    *[(name, API_SERVER, 6443) for name in ("portal", "sessions", "worker", "scheduler-watch")],
    ("sessions", A_SESSION, 8888),  # the sessions' proxy (docs/sessions.md)
]
FORBIDDEN = [
    (A_JOB, "portal", 8000),  # jobs reach the portal only through the Ingress, like anyone
    (A_JOB, "node-agent", 8000),
    (INGRESS_CONTROLLER, "worker", 8000),
    (PROMETHEUS, "worker", 8000),
    (INGRESS_CONTROLLER, "portal", 5432),
    ("node-agent", MANAGED_SERVICE, 5432),
    ("node-agent", INTERNET, 443),
    ("node-agent", API_SERVER, 6443),
    ("node-agent", "worker", 8000),
    ("beat", MANAGED_SERVICE, 5432),
    ("beat", API_SERVER, 6443),
    ("migrate", API_SERVER, 6443),
    ("migrate", MANAGED_SERVICE, 5672),
    ("portal", INTERNET, 587),
    ("portal", INTERNET, 80),
    ("worker", "portal", 8000),
    ("portal", A_SESSION, 8888),  # the proxy is the sessions' Deployment, not the portal
    ("sessions", A_JOB, 8888),  # only sessions, only their port
    ("sessions", A_SESSION, 29500),
    ("worker", A_SESSION, 8888),
    ("migrate", A_SESSION, 8888),
    (OTHER_ORGANISATIONS_JOB, A_SESSION, 8888),
    (A_JOB, "sessions", 8000),  # jobs reach the proxy only through the Ingress, like anyone
    ("node-agent", "sessions", 8000),
    (PROMETHEUS, "sessions", 8000),
    ("portal", "sessions", 8000),
    ("sessions", MANAGED_SERVICE, 5672),  # no broker: it sends no tasks
    ("sessions", MANAGED_SERVICE, 6379),  # no Redis: logins come from the database
    ("sessions", INTERNET, 80),
]


def _resolve(pods, end):
    return pods[end] if isinstance(end, str) else end


def _policies(objects) -> list[dict]:
    """deploy/'s policies, and those the Kubernetes backend makes in each organisation's namespace before its
    first pod (tenant) and session (sessions' ingress): a flow to a session must pass both ends."""
    organisations = [
        policy
        for namespace in (A_JOB.namespace, OTHER_ORGANISATIONS_JOB.namespace)
        for policy in (
            k8s_manifests.tenant_policy_manifest(namespace, internet=True, egress_except=()),
            k8s_manifests.session_policy_manifest(namespace),
        )
    ]
    return of_kind(objects, "NetworkPolicy") + organisations


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(("source", "destination", "port"), REQUIRED, ids=str)
def test_the_flows_gpugrant_needs_are_allowed(overlay, source, destination, port):
    objects = rendered(overlay)
    pods = _gpugrant_pods(objects)

    assert allowed(_policies(objects), _resolve(pods, source), _resolve(pods, destination), port)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(("source", "destination", "port"), FORBIDDEN, ids=str)
def test_other_flows_are_denied(overlay, source, destination, port):
    objects = rendered(overlay)
    pods = _gpugrant_pods(objects)

    assert not allowed(_policies(objects), _resolve(pods, source), _resolve(pods, destination), port)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_may_resolve_names(overlay):
    objects = rendered(overlay)
    for name, pod in _gpugrant_pods(objects).items():
        assert allowed(of_kind(objects, "NetworkPolicy"), pod, DNS, 53, "UDP"), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_under_a_default_deny_in_both_directions(overlay):
    objects = rendered(overlay)
    policies = of_kind(objects, "NetworkPolicy")
    deny_all = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]

    assert {p["metadata"]["namespace"] for p in deny_all} == {"gpugrant", "gpugrant-node-agent"}
    for obj in workloads(objects):
        assert obj["metadata"]["namespace"] in {p["metadata"]["namespace"] for p in deny_all}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", ["portal", "sessions"])
def test_the_port_the_policies_open_is_the_one_it_listens_on(overlay, name):
    objects = rendered(overlay)
    (served,) = [obj for obj in workloads(objects) if component(obj) == name]
    (container,) = served["spec"]["template"]["spec"]["containers"]

    assert [port["containerPort"] for port in container["ports"]] == [8000]
    listens = {"portal": "--bind=0.0.0.0:8000", "sessions": "--host 0.0.0.0 --port 8000"}  # gunicorn, uvicorn
    assert listens[name] in " ".join(container["args"])


def test_the_evaluator_finds_a_gap():
    objects = rendered("production")
    policies = [
        p for p in of_kind(objects, "NetworkPolicy") if p["metadata"]["name"] != "gpugrant-node-agent-egress"
    ]
    pods = _gpugrant_pods(objects)

    assert not allowed(policies, pods["node-agent"], pods["portal"], 8000)
    assert allowed(of_kind(objects, "NetworkPolicy"), pods["node-agent"], pods["portal"], 8000)
