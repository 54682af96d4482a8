"""Tiny builders for scheduler-core tests: nodes, running and queued jobs, snapshots."""

from scheduler.core import (
    AllocationState,
    Node,
    PodPlacement,
    Policy,
    Priority,
    QueuedJob,
    RunningJob,
    Snapshot,
)

HOUR = 3600.0


def node(
    name: str, *, free: int = 8, gpus: int = 8, gpu_type: str = "A100", schedulable: bool = True
) -> Node:
    return Node(name, gpu_type, gpus, frozenset(range(gpus - free, gpus)), schedulable)


def running(
    job_id: str,
    node_name: str,
    gpus: int,
    *,
    ends_at: float,
    allocation: str = "a",
    gpu_type: str = "A100",
    priority: Priority = Priority.NORMAL,
    started_at: float = 0.0,
    first_gpu: int = 0,
) -> RunningJob:
    pod = PodPlacement(node_name, tuple(range(first_gpu, first_gpu + gpus)))
    return RunningJob(job_id, allocation, gpu_type, (pod,), started_at, ends_at - started_at, priority)


def queued(
    job_id: str,
    gpus_per_pod: int = 1,
    *,
    pods: int = 1,
    allocation: str = "a",
    gpu_type: str = "A100",
    runtime: float = HOUR,
    submitted_at: float = 0.0,
    priority: Priority = Priority.NORMAL,
) -> QueuedJob:
    return QueuedJob(job_id, allocation, gpu_type, gpus_per_pod, pods, runtime, submitted_at, priority)


def allocation(
    allocation_id: str = "a", *, weight: float = 1.0, usage: float = 0.0, cap: int = 1024
) -> AllocationState:
    return AllocationState(allocation_id, weight, usage, cap)


def snapshot(
    nodes, queue=(), run=(), allocations=None, *, now: float = 0.0, policy: Policy | None = None
) -> Snapshot:
    if allocations is None:
        ids = sorted({j.allocation_id for j in (*queue, *run)} or {"a"})
        allocations = [allocation(i) for i in ids]
    return Snapshot(now, tuple(nodes), tuple(run), tuple(queue), tuple(allocations), policy or Policy())


def placed(plan) -> dict[str, list[tuple[str, int]]]:
    """job id → [(node, GPU count)] for every start."""
    return {s.job_id: [(p.node, len(p.gpu_indices)) for p in s.pods] for s in plan.starts}
