"""KubernetesBackend.inventory() over real HTTP against the loopback API server."""

from scheduler.backends.base import NodeInfo
from tests.scheduler.backends import k8s_builders as b


def test_it_maps_gpu_products_to_gpu_types_and_skips_what_it_cannot_offer(fake_api, k8s_backend):
    fake_api.put(b.node("h100-1", product=b.H100, gpus=8))
    fake_api.put(b.node("a100-1", product=b.A100, gpus=4))
    fake_api.put(b.node("mystery", product="NVIDIA-Future-GPU", gpus=8))
    fake_api.put(b.node("shared", product=f"{b.H100}-SHARED", gpus=32))  # time-sliced: not exclusive GPUs
    fake_api.put(b.node("cpu-only", product=None, gpus=None))
    fake_api.put(b.node("no-gpus-left", product=b.H100, gpus=0))

    assert k8s_backend.inventory() == [
        NodeInfo(name="a100-1", gpu_type="A100", gpu_count=4),
        NodeInfo(name="h100-1", gpu_type="H100", gpu_count=8),
    ]


def test_it_marks_cordoned_not_ready_and_tainted_nodes_unschedulable_with_a_reason(fake_api, k8s_backend):
    fake_api.put(b.node("cordoned", cordoned=True))
    fake_api.put(b.node("not-ready", ready=False))
    fake_api.put(b.node("tainted", taints=({"key": "maintenance", "value": "bios", "effect": "NoSchedule"},)))
    fake_api.put(b.node("draining", taints=({"key": "drain", "effect": "NoExecute"},)))
    fake_api.put(
        b.node("gpu-taint", taints=({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},))
    )
    fake_api.put(b.node("soft-taint", taints=({"key": "spot", "effect": "PreferNoSchedule"},)))
    fake_api.put(b.node("renamed", hostname="renamed.cluster.internal"))

    reasons = {info.name: (info.schedulable, info.unschedulable_reason) for info in k8s_backend.inventory()}

    assert reasons == {
        "cordoned": (False, "cordoned"),
        "not-ready": (False, "not ready (KubeletNotReady: container runtime is down)"),
        "tainted": (False, "tainted maintenance=bios:NoSchedule"),
        "draining": (False, "tainted drain:NoExecute"),
        "gpu-taint": (True, ""),  # the GPU taint is the one our pods tolerate
        "soft-taint": (True, ""),
        "renamed": (
            False,
            "its kubernetes.io/hostname label ('renamed.cluster.internal') differs from its name; "
            "pods are pinned by that label",
        ),
    }


def test_it_reports_gpus_held_by_foreign_pods_as_the_highest_indices(fake_api, k8s_backend):
    fake_api.put(b.node("gpu-a", gpus=8))
    fake_api.put(b.node("gpu-b", gpus=8))
    fake_api.put(b.foreign_pod("notebook", "gpu-a", 2))
    fake_api.put(b.foreign_pod("helm-inference", "gpu-a", 1, labels={"app.kubernetes.io/managed-by": "Helm"}))
    fake_api.put(b.foreign_pod("finished", "gpu-a", 4, phase="Succeeded"))
    fake_api.put(b.foreign_pod("crashed", "gpu-a", 4, phase="Failed"))
    fake_api.put(b.foreign_pod("unscheduled", None, 4, phase="Pending"))
    fake_api.put(b.foreign_pod("init-heavy", "gpu-b", 1, init_gpus=3))

    foreign = {info.name: info.foreign_gpus for info in k8s_backend.inventory()}

    assert foreign == {"gpu-a": (5, 6, 7), "gpu-b": (5, 6, 7)}


def test_foreign_gpus_avoid_the_indices_gpugrants_own_pods_were_given(fake_api, k8s_backend):
    fake_api.put(b.node("gpu-a", gpus=8))
    k8s_backend.bind(b.spec([("gpu-a", (6, 7))]))
    fake_api.set_pod_status(
        f"gpugrant-{b.ORGANISATION_ID}", "job-3f2a9c1e7b4d-0", phase="Running", node_name="gpu-a"
    )
    fake_api.put(b.foreign_pod("notebook", "gpu-a", 2))

    (info,) = k8s_backend.inventory()

    assert info.foreign_gpus == (4, 5)  # gpugrant's own pod is not foreign, and its 6 and 7 are not reported


def test_it_asks_the_server_only_for_non_terminal_pods(fake_api, k8s_backend):
    fake_api.put(b.node("gpu-a"))

    k8s_backend.inventory()

    (request,) = fake_api.requests_for("list", "pods")
    assert request.query["fieldSelector"] == "status.phase!=Succeeded,status.phase!=Failed"
    assert request.namespace == ""  # across all namespaces
