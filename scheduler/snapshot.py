"""Reading the database into a scheduler.core Snapshot, with plain values only (no model objects)."""

from collections import defaultdict
from dataclasses import dataclass, replace

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from quotas.models import Allocation, AllocationBudget, AllocationStatus
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
from scheduler.core.predict import RuntimeHistory
from scheduler.fair_usage import decayed_usage_at
from scheduler.history import TRAIT_FIELDS, job_traits, runtime_history
from scheduler.models import Gpu, GpuNode, Job
from scheduler.states import JobState

PRIORITIES = {"low": Priority.LOW, "normal": Priority.NORMAL, "high": Priority.HIGH}


@dataclass
class SnapshotIndex:
    node_ids: dict[str, int]
    public_ids: dict[str, str]  # core job id (the primary key as text) → public id
    history: RuntimeHistory | None = None  # what the predictions came from (and the estimates' fallback)


def policy_from_settings() -> Policy:
    return Policy(
        max_age_s=settings.GPUGRANT_MAX_AGE_S,
        preemption_wait_s=settings.GPUGRANT_PREEMPTION_WAIT_S,
        preemption_grace_s=settings.GPUGRANT_PREEMPTION_GRACE_S,
        preemption_hold_s=settings.GPUGRANT_PREEMPTION_HOLD_S,
        reservation_depth=settings.GPUGRANT_RESERVATION_DEPTH,
    )


def build_snapshot(*, backend_name: str, now=None) -> tuple[Snapshot, SnapshotIndex]:
    now = now or timezone.now()
    epoch = now.timestamp()
    nodes_rows = list(
        GpuNode.objects.filter(backend=backend_name).values_list(
            "id", "name", "gpu_type", "gpu_count", "schedulable"
        )
    )
    node_names = {row[0]: row[1] for row in nodes_rows}
    free: dict[int, list[int]] = defaultdict(list)
    held: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for node_id, index, job_id, external in Gpu.objects.filter(node__backend=backend_name).values_list(
        "node_id", "index", "job_id", "external"
    ):
        if job_id is not None:
            held[job_id][node_names[node_id]].append(index)
        elif not external:
            free[node_id].append(index)
    nodes = tuple(
        Node(name, gpu_type, count, frozenset(i for i in free[node_id] if i < count), schedulable)
        for node_id, name, gpu_type, count, schedulable in nodes_rows
    )

    public_ids: dict[str, str] = {}
    running = []
    for pk, public_id, allocation_id, gpu_type, priority, run_started_at, minutes in Job.objects.filter(
        state__in=[JobState.SCHEDULED, JobState.RUNNING], backend=backend_name
    ).values_list(
        "id", "public_id", "allocation_id", "gpu_type", "priority", "run_started_at", "max_runtime_minutes"
    ):
        pods = tuple(
            PodPlacement(node, tuple(sorted(indices))) for node, indices in sorted(held.get(pk, {}).items())
        )
        started = (run_started_at or now).timestamp()
        running.append(
            RunningJob(
                str(pk), str(allocation_id), gpu_type, pods, started, minutes * 60, PRIORITIES[priority]
            )
        )
        public_ids[str(pk)] = str(public_id)

    today = timezone.localdate()
    eligible = Q(
        allocation__status=AllocationStatus.ACTIVE,
        allocation__starts_on__lte=today,
        allocation__ends_on__gte=today,
    )
    queue = []
    for (
        pk,
        public_id,
        allocation_id,
        gpu_type,
        per_pod,
        pods,
        minutes,
        submitted_at,
        priority,
        held_nodes,
        held_since,
    ) in Job.objects.filter(eligible, state=JobState.QUEUED).values_list(
        "id",
        "public_id",
        "allocation_id",
        "gpu_type",
        "gpus_per_pod",
        "pods",
        "max_runtime_minutes",
        "submitted_at",
        "priority",
        "held_nodes",
        "held_since",
    ):
        queue.append(
            QueuedJob(
                str(pk),
                str(allocation_id),
                gpu_type,
                per_pod,
                pods,
                minutes * 60,
                submitted_at.timestamp(),
                PRIORITIES[priority],
                held_nodes=tuple(held_nodes or ()) if held_since else (),
                held_since=held_since.timestamp() if held_since else None,
            )
        )
        public_ids[str(pk)] = str(public_id)

    allocation_ids = {int(job.allocation_id) for job in (*running, *queue)}
    weights = dict(
        AllocationBudget.objects.filter(allocation_id__in=allocation_ids)
        .values("allocation_id")
        .annotate(total=Sum("awarded_gpu_hours"))
        .values_list("allocation_id", "total")
    )
    allocations = tuple(
        AllocationState(str(pk), float(weights.get(pk, 0)), decayed_usage_at(usage, as_of, now), cap)
        for pk, usage, as_of, cap in Allocation.objects.filter(pk__in=allocation_ids).values_list(
            "id", "decayed_usage_gpu_seconds", "decayed_usage_as_of", "max_concurrent_gpus"
        )
    )
    history = runtime_history(allocation_ids, now)
    running, queue = _with_predictions(history, running, queue)
    snapshot = Snapshot(epoch, nodes, tuple(running), tuple(queue), allocations, policy_from_settings())
    return snapshot, SnapshotIndex({row[1]: row[0] for row in nodes_rows}, public_ids, history)


def _with_predictions(history: RuntimeHistory, running: list, queue: list) -> tuple[list, list]:
    """Each job with its runtime predicted from history, and a queued job with the GPU time it attained."""
    if not running and not queue:
        return running, queue
    rows = {
        str(row["id"]): row
        # by state, not by a list of ids: the queue may hold 100,000 jobs
        for row in Job.objects.filter(
            state__in=[JobState.QUEUED, JobState.SCHEDULED, JobState.RUNNING]
        ).values("id", "used_gpu_seconds", *TRAIT_FIELDS)
    }

    def predicted(job):
        row = rows.get(job.job_id)
        return history.predict(job_traits(row), job.max_runtime_s) if row is not None else None

    running = [replace(job, prediction=predicted(job)) for job in running]
    queue = [
        replace(
            job,
            prediction=predicted(job),
            attained_gpu_s=float(rows[job.job_id]["used_gpu_seconds"]) if job.job_id in rows else 0.0,
        )
        for job in queue
    ]
    return running, queue
