"""KubernetesBackend.inventory() against the real control plane: GPU nodes as GPU Feature Discovery labels
them (kwok keeps them Ready, the controller manager taints them), and real pods of other people's."""

import pytest

from scheduler.backends.base import NodeInfo
from tests.cluster.controlplane import GPU_TAINT, gpu_node
from tests.scheduler.backends import k8s_builders as b
from tests.scheduler.backends.k8s_cluster import create_pod, foreign_pod, silent_gpu_node

pytestmark = pytest.mark.cluster


def _taint_keys(cluster, name: str) -> set[str]:
    return {taint["key"] for taint in cluster.get(f"/api/v1/nodes/{name}")["spec"].get("taints") or []}


def test_it_maps_gpu_products_to_gpu_types_and_skips_what_it_cannot_offer(cluster, cluster_backend):
    cluster.add_gpu_nodes("h100-1", product=b.H100, gpus=8, wait=False)
    cluster.add_gpu_nodes("a100-1", product=b.A100, gpus=4, wait=False)
    cluster.add_gpu_nodes("mystery", product="NVIDIA-Future-GPU", wait=False)
    cluster.add_gpu_nodes(
        "shared", product=f"{b.H100}-SHARED", gpus=32, wait=False
    )  # time-sliced: not whole GPUs
    cluster.add_gpu_nodes("no-gpus-left", gpus=0, wait=False)
    cpu_only = gpu_node("cpu-only", taints=())
    cpu_only["metadata"]["labels"] = {
        key: value
        for key, value in cpu_only["metadata"]["labels"].items()
        if not key.startswith("nvidia.com/")
    }
    resources = {"cpu": "64", "memory": "512Gi", "pods": "110"}
    cpu_only["status"] = {"allocatable": resources, "capacity": resources}
    cluster.create_node(cpu_only)
    cluster.wait_nodes_ready(["h100-1", "a100-1", "mystery", "shared", "no-gpus-left", "cpu-only"])
    # A new node keeps the not-ready taint until the controller manager has seen it Ready.
    cluster.wait_for(
        lambda: all(_taint_keys(cluster, name) == {GPU_TAINT["key"]} for name in ("h100-1", "a100-1")),
        "the GPU nodes' not-ready taints to be lifted",
    )

    assert cluster_backend.inventory() == [
        NodeInfo(name="a100-1", gpu_type="A100", gpu_count=4),
        NodeInfo(name="h100-1", gpu_type="H100", gpu_count=8),
    ]


def test_it_marks_cordoned_not_ready_and_tainted_nodes_unschedulable_with_a_reason(cluster, cluster_backend):
    gpu = GPU_TAINT["key"]
    maintenance = {"key": "maintenance", "value": "bios", "effect": "NoSchedule"}
    cluster.add_gpu_nodes("tainted", taints=(GPU_TAINT, maintenance), wait=False)
    cluster.add_gpu_nodes("draining", taints=(GPU_TAINT, {"key": "drain", "effect": "NoExecute"}), wait=False)
    cluster.add_gpu_nodes("gpu-taint", wait=False)  # every GPU node has the taint our pods tolerate
    cluster.add_gpu_nodes(
        "soft-taint", taints=(GPU_TAINT, {"key": "spot", "effect": "PreferNoSchedule"}), wait=False
    )
    cluster.add_gpu_nodes(
        "renamed", labels={"kubernetes.io/hostname": "renamed.cluster.internal"}, wait=False
    )
    cordoned = gpu_node("cordoned")
    cordoned["spec"]["unschedulable"] = True
    cluster.create_node(cordoned)
    not_ready = silent_gpu_node("not-ready")  # no kubelet to make it Ready again
    not_ready["status"]["conditions"] = [
        {
            "type": "Ready",
            "status": "False",
            "reason": "KubeletNotReady",
            "message": "container runtime is down",
        }
    ]
    cluster.create_node(not_ready)
    # The controller manager lifts the not-ready taint off Ready nodes and taints cordoned and not-ready
    # ones itself: the reason reported must still be the cause, not its taint.
    taints = {
        "tainted": {gpu, "maintenance"},
        "draining": {gpu, "drain"},
        "gpu-taint": {gpu},
        "soft-taint": {gpu, "spot"},
        "renamed": {gpu},
        "cordoned": {gpu, "node.kubernetes.io/unschedulable"},
        "not-ready": {gpu, "node.kubernetes.io/not-ready"},
    }
    cluster.wait_for(
        lambda: all(_taint_keys(cluster, name) == keys for name, keys in taints.items()),
        "the controller manager's taints",
    )

    reasons = {
        info.name: (info.schedulable, info.unschedulable_reason) for info in cluster_backend.inventory()
    }

    assert reasons == {
        "cordoned": (False, "cordoned"),
        "not-ready": (False, "not ready (KubeletNotReady: container runtime is down)"),
        "tainted": (False, "tainted maintenance=bios:NoSchedule"),
        "draining": (False, "tainted drain:NoExecute"),
        "gpu-taint": (True, ""),
        "soft-taint": (True, ""),
        "renamed": (
            False,
            "its kubernetes.io/hostname label ('renamed.cluster.internal') differs from its name; "
            "pods are pinned by that label",
        ),
    }


def test_it_reports_gpus_held_by_foreign_pods_as_the_highest_indices(cluster, cluster_backend):
    cluster.add_gpu_nodes("gpu-a", "gpu-b")
    research = f"{cluster.prefix}research"
    for pod in (
        foreign_pod("notebook", "gpu-a", 2),
        foreign_pod("helm-inference", "gpu-a", 1, labels={"app.kubernetes.io/managed-by": "Helm"}),
        foreign_pod("finished", "gpu-a", 2),
        foreign_pod("crashed", "gpu-a", 2),
        foreign_pod("unscheduled", "gpu-z", 4),  # no such node: Pending on none
        foreign_pod("init-heavy", "gpu-b", 1, init_gpus=3),
    ):
        create_pod(cluster, research, pod)
    for name in ("notebook", "helm-inference", "finished", "crashed", "init-heavy"):
        cluster.wait_pod_phase(research, name, "Running")
    cluster.exit_pod(research, "finished", 0)
    cluster.exit_pod(research, "crashed", 1)
    cluster.wait_pod_phase(research, "finished", "Succeeded")
    cluster.wait_pod_phase(research, "crashed", "Failed")

    foreign = {info.name: info.foreign_gpus for info in cluster_backend.inventory()}

    assert foreign == {"gpu-a": (5, 6, 7), "gpu-b": (5, 6, 7)}


def test_foreign_gpus_avoid_the_indices_gpugrants_own_pods_were_given(
    cluster, cluster_backend, org_namespace
):
    cluster.add_gpu_nodes("gpu-a")
    cluster_backend.bind(b.spec([("gpu-a", (6, 7))]))
    research = f"{cluster.prefix}research"
    create_pod(cluster, research, foreign_pod("notebook", "gpu-a", 2))
    cluster.wait_pod_phase(org_namespace, "job-3f2a9c1e7b4d-0", "Running")
    cluster.wait_pod_phase(research, "notebook", "Running")

    (info,) = cluster_backend.inventory()

    assert info.foreign_gpus == (4, 5)  # gpugrant's own pod is not foreign, and its 6 and 7 are not reported


def test_it_asks_the_server_only_for_non_terminal_pods(cluster_backend, audit):
    cluster_backend.inventory()

    (call,) = audit.calls("list", "pods")
    assert call.query["fieldSelector"] == "status.phase!=Succeeded,status.phase!=Failed"
    assert call.namespace == ""  # across all namespaces
