"""RBAC grants each identity no more than the Kubernetes backend uses from it, and nothing else has a token.

The scheduler's ClusterRole is checked call by call in tests/scheduler/backends/test_rbac.py. Here: the
portal's narrower role, against the same loopback API server, and the wiring of roles to pods.
"""

import json

import pytest
import yaml

from scheduler.backends.kubernetes import KubernetesBackend
from tests.deploy.manifests import BASE, OVERLAYS, find, of_kind, rendered, workloads
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.fake_apiserver import FakeApiServer, cluster_role_rules

PORTAL_ROLE = BASE / "portal-rbac.yaml"
# Which pods may hold an API token, and as whom.
ACCOUNTS = {
    "portal": "gpugrant-portal",
    "worker": "gpugrant-scheduler",
    "scheduler-watch": "gpugrant-scheduler",
}


def _portal_rules() -> set[tuple[str, str]]:
    (role,) = [doc for doc in yaml.safe_load_all(PORTAL_ROLE.read_text()) if doc["kind"] == "ClusterRole"]
    return {
        (verb, resource) for rule in role["rules"] for verb in rule["verbs"] for resource in rule["resources"]
    }


@pytest.fixture
def cluster_with_a_running_job(settings):
    settings.GPUGRANT_K8S_NAMESPACE_PREFIX = "gpugrant-"
    server = FakeApiServer(rbac=None).start()
    backend = KubernetesBackend(host=server.url, qps=0, burst=10, request_timeout=(2.0, 10.0))
    server.put(b.node("gpu-a"))
    server.put(b.node("gpu-b"))
    backend.bind(b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1))]))
    server.requests.clear()
    yield server, backend
    server.stop()


def test_the_portal_role_is_exactly_what_logs_stop_and_statuses_use(cluster_with_a_running_job):
    server, backend = cluster_with_a_running_job
    server.rbac = _portal_rules()

    backend.logs(b.JOB_ID, 1024)
    backend.statuses([b.JOB_ID])
    backend.stop(b.JOB_ID, "cancelled")

    assert server.recorded == _portal_rules()
    assert server.requests_for("delete", "pods") and server.requests_for("delete", "services")


def test_the_portal_role_cannot_start_anything(cluster_with_a_running_job):
    server, backend = cluster_with_a_running_job
    server.rbac = _portal_rules()

    with pytest.raises(Exception, match="403|[Ff]orbidden"):
        backend.bind(b.spec([("gpu-a", (2,))], job_id="00000000-0000-0000-0000-00000000beef"))
    assert not {("create", "pods"), ("create", "namespaces"), ("watch", "pods")} & _portal_rules()
    assert _portal_rules() < cluster_role_rules()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_role_grants_wildcards_secrets_or_other_api_groups(overlay):
    for role in of_kind(rendered(overlay), "ClusterRole", "Role"):
        for rule in role["rules"]:
            assert rule["apiGroups"] == [""]
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert not {"secrets", "configmaps", "serviceaccounts", "nodes/proxy"} & set(rule["resources"])
            assert not {"escalate", "bind", "impersonate", "update", "patch"} & set(rule["verbs"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_binding_names_a_role_and_an_account_that_exist(overlay):
    objects = rendered(overlay)
    bindings = of_kind(objects, "ClusterRoleBinding", "RoleBinding")

    assert {binding["metadata"]["name"] for binding in bindings} == {"gpugrant-scheduler", "gpugrant-portal"}
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
