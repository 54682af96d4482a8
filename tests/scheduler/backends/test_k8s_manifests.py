"""k8s_manifests: the exact objects a job becomes, each valid against the official Kubernetes schema."""

import kubernetes_validate
import pytest

from scheduler.backends import k8s_manifests as m
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.fake_apiserver import KUBERNETES_VERSION

PREFIX = "gpugrant-"
NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"
LABELS = {
    "app.kubernetes.io/managed-by": "gpugrant",
    "gpugrant.io/job": b.JOB_ID,
    "gpugrant.io/organisation": b.ORGANISATION_ID,
    "gpugrant.io/allocation": b.ALLOCATION_ID,
}


def _expected_pod(*, rank: int, node: str, indices: str, world_size: int, master: str, multi: bool) -> dict:
    spec = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": 7200,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "job",
                "image": "registry.example/train:1.0",
                "command": ["python", "train.py", "--epochs", "3"],
                "env": [
                    {"name": "EPOCHS", "value": "3"},
                    {"name": "GPUGRANT_JOB_ID", "value": b.JOB_ID},
                    {"name": "WORLD_SIZE", "value": str(world_size)},
                    {"name": "RANK", "value": str(rank)},
                    {"name": "MASTER_ADDR", "value": master},
                    {"name": "MASTER_PORT", "value": "29500"},
                ],
                "resources": {"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": "2"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
    }
    spec["nodeName"] = node  # gpugrant binds its pods itself (the default)
    if multi:
        spec["hostname"] = f"job-3f2a9c1e7b4d-{rank}"
        spec["subdomain"] = "job-3f2a9c1e7b4d"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"job-3f2a9c1e7b4d-{rank}",
            "namespace": NAMESPACE,
            "labels": {**LABELS, "gpugrant.io/rank": str(rank)},
            "annotations": {"gpugrant.io/gpu-indices": indices},
        },
        "spec": spec,
    }


def test_it_builds_a_single_pod_job_exactly():
    manifests = m.job_manifests(b.spec([("gpu-a", (0, 1))]), PREFIX)

    assert manifests.namespace == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                "app.kubernetes.io/managed-by": "gpugrant",
                "gpugrant.io/organisation": b.ORGANISATION_ID,
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
    }
    assert manifests.service is None
    assert manifests.pods == (
        _expected_pod(rank=0, node="gpu-a", indices="[0, 1]", world_size=1, master="localhost", multi=False),
    )


def test_it_builds_a_multi_pod_job_with_a_headless_service_and_rendezvous_through_it():
    manifests = m.job_manifests(b.spec([("gpu-a", (0, 1)), ("gpu-b", (6, 7))]), PREFIX)

    master = f"job-3f2a9c1e7b4d-0.job-3f2a9c1e7b4d.{NAMESPACE}.svc"
    assert manifests.pods == (
        _expected_pod(rank=0, node="gpu-a", indices="[0, 1]", world_size=2, master=master, multi=True),
        _expected_pod(rank=1, node="gpu-b", indices="[6, 7]", world_size=2, master=master, multi=True),
    )
    assert manifests.service == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "job-3f2a9c1e7b4d", "namespace": NAMESPACE, "labels": LABELS},
        "spec": {
            "clusterIP": "None",
            "selector": {"gpugrant.io/job": b.JOB_ID},
            "publishNotReadyAddresses": True,
            "ports": [{"name": "rendezvous", "port": 29500, "targetPort": 29500}],
        },
    }


@pytest.mark.parametrize(
    ("bind_to_node", "node_names"), [(True, ["gpu-a", "gpu-b", "gpu-c"]), (False, [None] * 3)]
)
def test_it_pins_each_pod_to_its_node_and_binds_it_there_unless_kube_scheduler_is_to(
    bind_to_node, node_names
):
    spec = b.spec([("gpu-a", (0, 1)), ("gpu-b", (0, 1)), ("gpu-c", (2, 3))])

    manifests = m.job_manifests(spec, PREFIX, bind_to_node=bind_to_node)

    assert [pod["spec"].get("nodeName") for pod in manifests.pods] == node_names
    assert [m.pinned_node(pod) for pod in manifests.pods] == ["gpu-a", "gpu-b", "gpu-c"]
    affinities = [
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        for pod in manifests.pods
    ]
    assert [a["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] for a in affinities] == [
        ["gpu-a"],
        ["gpu-b"],
        ["gpu-c"],
    ]
    assert [m.gpu_indices(pod) for pod in manifests.pods] == [(0, 1), (0, 1), (2, 3)]


def test_it_lets_our_rendezvous_variables_win_over_the_jobs_own():
    spec = b.spec([("gpu-a", (0,))], environment={"RANK": "7", "MASTER_PORT": "1", "DATA": "/data"})

    (pod,) = m.pod_manifests(spec, PREFIX)

    env = {item["name"]: item["value"] for item in pod["spec"]["containers"][0]["env"]}
    assert env["RANK"] == "0" and env["MASTER_PORT"] == "29500" and env["DATA"] == "/data"
    assert [item["name"] for item in pod["spec"]["containers"][0]["env"]].count("RANK") == 1


def test_it_refuses_ranks_that_are_not_zero_to_n():
    spec = b.spec([("gpu-a", (0,)), ("gpu-b", (0,))])
    broken = spec.__class__(**{**spec.__dict__, "pods": (spec.pods[1],)})

    with pytest.raises(ValueError, match="ranks"):
        m.pod_manifests(broken, PREFIX)


@pytest.mark.parametrize(
    ("organisation_id", "prefix", "expected"),
    [
        (
            "0b6d3c58-2f1e-4a7b-8c9d-0e1f2a3b4c5d",
            "gpugrant-",
            "gpugrant-0b6d3c58-2f1e-4a7b-8c9d-0e1f2a3b4c5d",
        ),
        ("42", "gpugrant-", "gpugrant-42"),
    ],
)
def test_it_names_namespaces_prefix_plus_organisation_when_already_valid(organisation_id, prefix, expected):
    assert m.namespace_name(organisation_id, prefix) == expected


@pytest.mark.parametrize(
    "organisation_id", ["Org_One", "org.one", "x" * 80, "--weird--", "ÜNICODE", "a" * 54 + "B"]
)
def test_it_makes_any_organisation_id_a_dns_label_and_keeps_different_ids_apart(organisation_id):
    name = m.namespace_name(organisation_id, "gpugrant-")

    assert len(name) <= 63
    assert name[0].isalnum() and name[-1].isalnum()
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert name != m.namespace_name(organisation_id.swapcase() + "_", "gpugrant-")


def test_two_ids_that_clean_up_alike_get_different_namespaces():
    assert m.namespace_name("Team_A", "gpugrant-") != m.namespace_name("team-a", "gpugrant-")


@pytest.mark.parametrize(
    "placement",
    [[("gpu-a", (0, 1))], [("gpu-a", (0, 1)), ("gpu-b", (0, 1))], [("n", (i, i + 1)) for i in range(4)]],
)
def test_every_manifest_is_valid_against_the_official_schema(placement):
    manifests = m.job_manifests(b.spec(placement), PREFIX)
    objects = [manifests.namespace, *manifests.pods, *([manifests.service] if manifests.service else [])]

    for obj in objects:
        assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) == "1.33"


def test_the_tenant_policy_is_valid_and_isolates_the_namespace():
    private = ("10.0.0.0/8", "192.168.0.0/16")

    policy = m.tenant_policy_manifest(NAMESPACE, internet=True, egress_except=private)

    assert kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True) == "1.33"
    spec = policy["spec"]
    assert spec["podSelector"] == {} and spec["policyTypes"] == ["Ingress", "Egress"]  # every pod, both ways
    assert spec["ingress"] == [{"from": [{"podSelector": {}}]}]  # only this organisation's own pods
    assert spec["egress"][0] == {"to": [{"podSelector": {}}]}
    assert spec["egress"][1]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert spec["egress"][2] == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(private)}}]}
    closed = m.tenant_policy_manifest(NAMESPACE, internet=False, egress_except=private)
    assert len(closed["spec"]["egress"]) == 2  # no internet: the namespace and DNS only


@pytest.mark.parametrize("user", [1000, 54321])
def test_job_pods_never_run_as_root_and_take_their_user_from_the_setting(user):
    (pod,) = m.pod_manifests(b.spec(), PREFIX, run_as_user=user)

    context = pod["spec"]["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == context["runAsGroup"] == user
    assert pod["spec"]["automountServiceAccountToken"] is False


def test_the_schema_check_catches_a_broken_pod():
    (pod,) = m.pod_manifests(b.spec(), PREFIX)
    pod["spec"]["containers"][0]["resources"]["limit"] = {"nvidia.com/gpu": "2"}  # a typo the API would drop

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_the_pinned_kubernetes_version_ships_with_the_installed_kubernetes_validate():
    # validate() silently falls back to an older schema when a version is missing; make that loud.
    assert KUBERNETES_VERSION in kubernetes_validate.utils.all_versions()
