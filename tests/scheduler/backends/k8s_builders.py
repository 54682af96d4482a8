"""Small builders for Kubernetes backend tests: nodes and foreign pods as the cluster reports them, job specs."""

import uuid

from scheduler.backends.base import JobSpec, PodSpec

H100 = "NVIDIA-H100-80GB-HBM3"
A100 = "NVIDIA-A100-SXM4-80GB"
JOB_ID = "3f2a9c1e-7b4d-4e8a-9c6f-1a2b3c4d5e6f"
ORGANISATION_ID = "0b6d3c58-2f1e-4a7b-8c9d-0e1f2a3b4c5d"
ALLOCATION_ID = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"


def node(
    name: str,
    *,
    product: str | None = H100,
    gpus: int | None = 8,
    ready: bool = True,
    cordoned: bool = False,
    taints: tuple[dict, ...] = (),
    hostname: str | None = None,
) -> dict:
    labels = {"kubernetes.io/hostname": hostname or name}
    if product:
        labels["nvidia.com/gpu.product"] = product
    allocatable = {"cpu": "64", "memory": "512Gi"}
    if gpus is not None:
        allocatable["nvidia.com/gpu"] = str(gpus)
    spec: dict = {"taints": list(taints)} if taints else {}
    if cordoned:
        spec["unschedulable"] = True
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status" if ready else "container runtime is down",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {"allocatable": allocatable, "capacity": allocatable, "conditions": [condition]},
    }


def foreign_pod(
    name: str,
    node_name: str | None,
    gpus: int,
    *,
    phase: str = "Running",
    namespace: str = "research",
    labels: dict | None = None,
    init_gpus: int = 0,
) -> dict:
    """A pod gpugrant did not create (someone's notebook, a Helm release …)."""
    container = {
        "name": "main",
        "image": "notebook:1",
        "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
    }
    spec: dict = {"containers": [container]}
    if node_name:
        spec["nodeName"] = node_name
    if init_gpus:
        spec["initContainers"] = [
            {
                "name": "warmup",
                "image": "warmup:1",
                "resources": {"limits": {"nvidia.com/gpu": str(init_gpus)}},
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": "notebook"}},
        "spec": spec,
        "status": {"phase": phase},
    }


def spec(
    placement: list[tuple[str, tuple[int, ...]]] | None = None,
    *,
    job_id: str = JOB_ID,
    gpus_per_pod: int = 2,
    environment: dict | None = None,
    image: str = "registry.example/train:1.0",
    max_runtime_seconds: int = 7200,
) -> JobSpec:
    placement = placement or [("gpu-a", (0, 1))]
    return JobSpec(
        job_id=job_id,
        name="train-llm",
        organisation_id=ORGANISATION_ID,
        allocation_id=ALLOCATION_ID,
        kind="training",
        image=image,
        command=("python", "train.py", "--epochs", "3"),
        environment=environment if environment is not None else {"EPOCHS": "3"},
        gpu_type="H100",
        gpus_per_pod=gpus_per_pod,
        pods=tuple(
            PodSpec(node=n, gpu_indices=indices, rank=rank) for rank, (n, indices) in enumerate(placement)
        ),
        max_runtime_seconds=max_runtime_seconds,
    )


def other_job_id() -> str:
    return str(uuid.uuid4())


OWNER_ID = "5c4b3a29-1807-46f5-a4d3-c2b1a0f9e8d7"
SESSION_TOKEN = "tok-3b1f0c9d2e8a4f5b6c7d8e9f0a1b2c3d"
SESSION_COMMAND = (
    "jupyter",
    "lab",
    "--no-browser",
    f"--ServerApp.base_url=/sessions/{JOB_ID}/",
    "--ServerApp.sock={session_socket}",
    "--ServerApp.root_dir=.",
)


def session_spec(
    node_name: str = "gpu-a",
    indices: tuple[int, ...] = (0,),
    *,
    job_id: str = JOB_ID,
    owner_id: str = OWNER_ID,
    token: str = SESSION_TOKEN,
) -> JobSpec:
    """An interactive session as cycle.spec_for makes one: its token in ``secrets``, its owner's workspace."""
    return JobSpec(
        job_id=job_id,
        name="session",
        organisation_id=ORGANISATION_ID,
        allocation_id=ALLOCATION_ID,
        kind="interactive",
        image="registry.example/jupyter:4.2",
        command=tuple(part.replace(JOB_ID, job_id) for part in SESSION_COMMAND),
        environment={},
        gpu_type="H100",
        gpus_per_pod=len(indices),
        pods=(PodSpec(node=node_name, gpu_indices=indices, rank=0),),
        max_runtime_seconds=3600,
        secrets={"JUPYTER_TOKEN": token},
        workspace=f"{ORGANISATION_ID}/{owner_id}",
    )
