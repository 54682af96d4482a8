"""RBAC grants each identity no more than the Kubernetes backend uses from it, and nothing else has a token.

The scheduler's ClusterRole is checked call by call in tests/scheduler/backends/test_rbac.py. Here: the
portal's narrower role against the real API server of the test control plane (tests/cluster): the account
gpugrant-portal authenticates with a bound token of its own, RBAC decides, and the API server's audit log
says which (verb, resource) pairs it asked for. Then the wiring of roles to pods, read from the manifests.
"""

import json

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from scheduler.backends import k8s_manifests
from scheduler.backends.base import BindError, Phase
from scheduler.backends.kubernetes import KubernetesBackend
from tests.cluster.fixtures import PORTAL_ACCOUNT, SCHEDULER_ACCOUNT, SESSIONS_ACCOUNT
from tests.deploy.manifests import OVERLAYS, find, of_kind, rendered, workloads
from tests.scheduler.backends import k8s_builders as b

PORTAL_USER = "system:serviceaccount:{}:{}".format(*PORTAL_ACCOUNT)
SESSIONS_USER = "system:serviceaccount:{}:{}".format(*SESSIONS_ACCOUNT)
# Which pods may hold an API token, and as whom.
ACCOUNTS = {
    "portal": "gpugrant-portal",
    "sessions": "gpugrant-sessions",
    "worker": "gpugrant-scheduler",
    "scheduler-watch": "gpugrant-scheduler",
}


def _rules(role: str) -> set[tuple[str, str]]:
    """A ClusterRole's (verb, resource) pairs, as the overlays render it."""
    rules = find(rendered("production"), "ClusterRole", role)["rules"]
    return {(verb, resource) for rule in rules for verb in rule["verbs"] for resource in rule["resources"]}


def _asked_for(plane, user: str, offset: int) -> set[tuple[str, str]]:
    """The (verb, resource) pairs ``user`` requested since ``offset`` in the audit log, each one allowed."""
    events, _ = plane.audit_events(offset)
    asked = set()
    for event in events:
        if event["user"]["username"] != user or event["stage"] != "ResponseComplete":
            continue
        assert event["annotations"]["authorization.k8s.io/decision"] == "allow", event["requestURI"]
        ref = event["objectRef"]
        asked.add((event["verb"], "/".join(filter(None, (ref["resource"], ref.get("subresource"))))))
    return asked


@pytest.fixture
def running_job(cluster):
    """A two-pod job on two kwok GPU nodes, started with the scheduler's account; its pods once Running."""
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    scheduler = KubernetesBackend(api_client=cluster.api_client(SCHEDULER_ACCOUNT), qps=0, burst=10)
    scheduler.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))
    selector = f"{k8s_manifests.JOB_LABEL}={b.JOB_ID}"
    return cluster.wait_for(
        lambda: (
            len(pods := cluster.pods(selector)) == 2
            and all(pod["status"].get("phase") == "Running" for pod in pods)
            and pods
        ),
        "the job's two pods Running",
    )


@pytest.fixture
def portal_client(cluster):
    """An API client with a fresh bound token of the portal's own account."""
    return cluster.api_client(PORTAL_ACCOUNT)


@pytest.mark.cluster
def test_logs_statuses_and_stop_use_exactly_the_portal_role(cluster, running_job, portal_client):
    portal = KubernetesBackend(api_client=portal_client, qps=0, burst=10)
    session_job = b.other_job_id()
    scheduler = KubernetesBackend(api_client=cluster.api_client(SCHEDULER_ACCOUNT), qps=0, burst=10)
    scheduler.bind(b.session_spec("gpu-a", (2,), job_id=session_job))
    cluster.write_pod_log(["epoch 1: loss 0.42"])
    offset = cluster.audit_offset()

    log = portal.logs(b.JOB_ID, 1024)
    (status,) = portal.statuses([b.JOB_ID])
    portal.stop(b.JOB_ID, "cancelled")
    portal.stop(session_job, "cancelled")  # a session's Secret too

    assert "epoch 1: loss 0.42" in log
    assert status.phase == Phase.RUNNING
    assert _asked_for(cluster, PORTAL_USER, offset) == _rules("gpugrant-portal")
    selector = f"{k8s_manifests.JOB_LABEL}={b.JOB_ID}"
    cluster.wait_for(lambda: cluster.pods(selector) == [], "the stopped job's pods gone")


@pytest.mark.cluster
def test_the_sessions_proxy_asks_where_a_session_listens_with_exactly_its_role_and_may_do_nothing_else(
    cluster, running_job
):
    client = cluster.api_client(SESSIONS_ACCOUNT)
    proxy = KubernetesBackend(api_client=client, qps=0, burst=10)
    session_job = b.other_job_id()
    scheduler = KubernetesBackend(api_client=cluster.api_client(SCHEDULER_ACCOUNT), qps=0, burst=10)
    scheduler.bind(b.session_spec("gpu-a", (2,), job_id=session_job))
    offset = cluster.audit_offset()

    endpoint = proxy.session_endpoint(session_job)

    assert endpoint and endpoint.startswith("http://")
    assert _asked_for(cluster, SESSIONS_USER, offset) == _rules("gpugrant-sessions") == {("list", "services")}
    namespace = running_job[0]["metadata"]["namespace"]
    for call in (
        lambda: kubernetes.client.CoreV1Api(client).list_namespaced_pod(namespace),
        lambda: kubernetes.client.CoreV1Api(client).delete_namespaced_service(
            k8s_manifests.service_name(session_job), namespace
        ),
    ):
        with pytest.raises(ApiException) as refused:
            call()
        assert refused.value.status == 403


@pytest.mark.cluster
def test_the_portal_account_cannot_start_anything(cluster, running_job, portal_client):
    portal = KubernetesBackend(api_client=portal_client, qps=0, burst=10)
    other_job = b.other_job_id()
    (pod, *_) = k8s_manifests.job_manifests(
        b.spec([("gpu-a", (2, 3))], job_id=other_job), cluster.prefix
    ).pods
    namespace = running_job[0]["metadata"][
        "namespace"
    ]  # exists: the refusal is RBAC's, not a missing namespace

    with pytest.raises(ApiException) as refused:
        kubernetes.client.CoreV1Api(portal_client).create_namespaced_pod(namespace, pod)
    with pytest.raises(BindError, match="403"):
        portal.bind(b.spec([("gpu-a", (2, 3))], job_id=other_job))

    assert refused.value.status == 403
    assert cluster.pods(f"{k8s_manifests.JOB_LABEL}={other_job}") == []


def test_the_portal_role_is_a_narrower_subset_of_the_schedulers():
    portal, scheduler = _rules("gpugrant-portal"), _rules("gpugrant-scheduler")

    assert portal < scheduler
    assert (
        not {("create", "pods"), ("create", "namespaces"), ("create", "services"), ("watch", "pods")} & portal
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_role_grants_wildcards_secrets_or_other_api_groups(overlay):
    # The one rule outside the core API group: the scheduler keeps each organisation's NetworkPolicy.
    tenant_policy = {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["networkpolicies"],
        "verbs": ["create", "patch"],
    }
    for role in of_kind(rendered(overlay), "ClusterRole", "Role"):
        for rule in role["rules"]:
            if rule["apiGroups"] != [""]:
                assert rule == tenant_policy and role["metadata"]["name"] == "gpugrant-scheduler"
                continue
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert not {"configmaps", "serviceaccounts", "nodes/proxy"} & set(rule["resources"])
            if "secrets" in rule["resources"]:
                # A session's token Secret (docs/sessions.md): written and deleted by name, never read, so
                # no role can read anyone's Secret; in a rule of its own, so no other verb reaches it.
                assert rule["resources"] == ["secrets"] and set(rule["verbs"]) <= {"create", "delete"}
            assert not {"escalate", "bind", "impersonate", "update", "patch"} & set(rule["verbs"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_binding_names_a_role_and_an_account_that_exist(overlay):
    objects = rendered(overlay)
    bindings = of_kind(objects, "ClusterRoleBinding", "RoleBinding")

    assert {binding["metadata"]["name"] for binding in bindings} == {
        "gpugrant-scheduler",
        "gpugrant-portal",
        "gpugrant-sessions",
    }
    for binding in bindings:
        role = find(objects, binding["roleRef"]["kind"], binding["roleRef"]["name"])
        assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io" and role
        for subject in binding["subjects"]:
            account = find(objects, "ServiceAccount", subject["name"])
            assert subject == {
                "kind": "ServiceAccount",
                "name": account["metadata"]["name"],
                "namespace": account["metadata"]["namespace"],
            }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_pods_that_call_the_api_carry_a_token(overlay):
    objects = rendered(overlay)
    for obj in workloads(objects):
        spec = obj["spec"]["template"]["spec"]
        name = obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        if name in ACCOUNTS:
            assert spec["serviceAccountName"] == ACCOUNTS[name]
            assert spec["automountServiceAccountToken"] is True
            assert (
                obj["metadata"]["namespace"]
                == find(objects, "ServiceAccount", ACCOUNTS[name])["metadata"]["namespace"]
            )
        else:
            assert spec["automountServiceAccountToken"] is False, name
            assert "serviceAccountName" not in spec


def test_the_scheduler_configmaps_gpu_product_map_matches_the_settings_default(settings):
    configmap = find(rendered("production"), "ConfigMap", "gpugrant-scheduler")
    product_map = json.loads(configmap["data"]["GPUGRANT_K8S_PRODUCT_MAP"])

    assert product_map == settings.GPUGRANT_K8S_PRODUCT_MAP
    assert set(product_map.values()) <= set(settings.GPUGRANT_GPU_TYPES)
