"""Reading the database into a scheduler.core Snapshot, with plain values only (no model objects)."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from portal.providers.models import ClusterState
from portal.providers.selectors import allowed_clusters, cluster_costs, cluster_rows
from quotas.models import Allocation, AllocationBudget, AllocationStatus
from scheduler.core import (
    AllocationState,
    Entitlement,
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
from scheduler.history import TRAIT_FIELDS, job_traits, recent_waits, runtime_history
from scheduler.models import Gpu, GpuNode, Job
from scheduler.pins import pinned_providers
from scheduler.states import JobState

PRIORITIES = {"low": Priority.LOW, "normal": Priority.NORMAL, "high": Priority.HIGH}


@dataclass
class SnapshotIndex:
    node_ids: dict[str, int]
    public_ids: dict[str, str]  # core job id (the primary key as text) → public id
    history: RuntimeHistory | None = None  # what the predictions came from (and the estimates' fallback)
    node_clusters: dict[str, int] = field(default_factory=dict)  # node name → its cluster's pk, if tied


def policy_from_settings() -> Policy:
    return Policy(
        max_age_s=settings.GPUGRANT_MAX_AGE_S,
        preemption_wait_s=settings.GPUGRANT_PREEMPTION_WAIT_S,
        preemption_grace_s=settings.GPUGRANT_PREEMPTION_GRACE_S,
        preemption_hold_s=settings.GPUGRANT_PREEMPTION_HOLD_S,
        reservation_depth=settings.GPUGRANT_RESERVATION_DEPTH,
        max_preemptions=settings.GPUGRANT_MAX_PREEMPTIONS,
        preemption_max_run_s=settings.GPUGRANT_PREEMPTION_MAX_RUN_S,
        preemption_wait_budget=settings.GPUGRANT_PREEMPTION_WAIT_BUDGET,
        preemption_shares=settings.GPUGRANT_PREEMPTION_SHARES,
        session_reserve=tuple(sorted(settings.GPUGRANT_SESSION_RESERVE_GPUS.items())),
    )


def _entitlements(usable: Q) -> tuple[Entitlement, ...]:
    """Every usable allocation's claim on each GPU type it was awarded, idle or not: what guaranteed
    shares divide each type's GPUs by (scheduling.md, "Preempt"). ``usable``: the allocations whose
    queued jobs are planned (build_snapshot's ``eligible``)."""
    rows = AllocationBudget.objects.filter(usable, awarded_gpu_hours__gt=0).values_list(
        "allocation_id", "gpu_type", "awarded_gpu_hours"
    )
    return tuple(Entitlement(str(pk), gpu_type, float(hours)) for pk, gpu_type, hours in rows)


def _node(name, gpu_type, count, free, schedulable, cluster, costs) -> Node:
    """A node as the planner sees it: in its cluster (if tied to one), which takes new placements only
    while active, at what placing a job there costs (portal.providers.selectors.cluster_costs)."""
    if cluster is None:
        return Node(name, gpu_type, count, free, schedulable)
    return Node(
        name,
        gpu_type,
        count,
        free,
        schedulable and cluster.state == ClusterState.ACTIVE,
        cluster=cluster.name,
        cost=costs.get((cluster.provider_id, gpu_type), 0.0),
    )


def _where_jobs_may_run(queued_rows, clusters, regions: dict[int, str]) -> dict[int, frozenset[str] | None]:
    """Each queued job's allowed clusters: its allocation's pins (``regions``: allocation → its region
    pin) narrowed by its own (None: anywhere)."""
    pinned = pinned_providers({row["allocation_id"] for row in queued_rows}) if queued_rows else {}
    seen: dict[tuple, frozenset[str] | None] = {}
    where = {}
    for row in queued_rows:
        providers, region = (
            pinned.get(row["allocation_id"], frozenset()),
            regions.get(row["allocation_id"], ""),
        )
        key = (providers, region, row["provider_id"], row["region"])
        if key not in seen:
            seen[key] = allowed_clusters(
                clusters,
                providers=providers,
                region=region,
                job_provider=row["provider_id"],
                job_region=row["region"],
            )
        where[row["id"]] = seen[key]
    return where


def build_snapshot(*, backend_name: str, now=None) -> tuple[Snapshot, SnapshotIndex]:
    now = now or timezone.now()
    epoch = now.timestamp()
    nodes_rows = list(
        GpuNode.objects.filter(backend=backend_name).values_list(
            "id", "name", "gpu_type", "gpu_count", "schedulable", "cluster_id"
        )
    )
    clusters = {row.pk: row for row in cluster_rows()}
    costs = cluster_costs(timezone.localdate()) if clusters else {}
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
        _node(
            name,
            gpu_type,
            count,
            frozenset(i for i in free[node_id] if i < count),
            schedulable,
            clusters.get(cluster_id),
            costs,
        )
        for node_id, name, gpu_type, count, schedulable, cluster_id in nodes_rows
    )

    running_rows = list(
        Job.objects.filter(state__in=[JobState.SCHEDULED, JobState.RUNNING], backend=backend_name).values(
            "id",
            "public_id",
            "gpu_type",
            "priority",
            "run_started_at",
            "max_runtime_minutes",
            "requeues",
            *TRAIT_FIELDS,
        )
    )
    today = timezone.localdate()
    eligible = Q(
        allocation__status=AllocationStatus.ACTIVE,
        allocation__starts_on__lte=today,
        allocation__ends_on__gte=today,
    )
    queued_rows = list(
        Job.objects.filter(eligible, state=JobState.QUEUED).values(
            "id",
            "public_id",
            "gpu_type",
            "max_runtime_minutes",
            "submitted_at",
            "priority",
            "held_nodes",
            "held_since",
            "used_gpu_seconds",
            "provider_id",
            "region",
            "kind",
            *TRAIT_FIELDS,
        )
    )
    allocation_ids = {row["allocation_id"] for row in (*running_rows, *queued_rows)}
    # Each allocation read once: fair-share state and where its jobs may run (its region pin).
    allocation_rows = list(
        Allocation.objects.filter(pk__in=allocation_ids).values_list(
            "id", "decayed_usage_gpu_seconds", "decayed_usage_as_of", "max_concurrent_gpus", "region"
        )
    )
    where = _where_jobs_may_run(queued_rows, clusters.values(), {row[0]: row[4] for row in allocation_rows})
    # Predictions come with the rows already read: each job is built once, with its prediction.
    history = runtime_history(allocation_ids, now)

    def predicted(row):
        return history.predict(job_traits(row), row["max_runtime_minutes"] * 60)

    public_ids = {str(row["id"]): str(row["public_id"]) for row in (*running_rows, *queued_rows)}
    running = []
    for row in running_rows:
        pods = tuple(
            PodPlacement(node, tuple(sorted(indices)))
            for node, indices in sorted(held.get(row["id"], {}).items())
        )
        running.append(
            RunningJob(
                str(row["id"]),
                str(row["allocation_id"]),
                row["gpu_type"],
                pods,
                (row["run_started_at"] or now).timestamp(),
                row["max_runtime_minutes"] * 60,
                PRIORITIES[row["priority"]],
                prediction=predicted(row),
                preemptions=row["requeues"],
            )
        )
    queue = [
        QueuedJob(
            str(row["id"]),
            str(row["allocation_id"]),
            row["gpu_type"],
            row["gpus_per_pod"],
            row["pods"],
            row["max_runtime_minutes"] * 60,
            row["submitted_at"].timestamp(),
            PRIORITIES[row["priority"]],
            held_nodes=tuple(row["held_nodes"] or ()) if row["held_since"] else (),
            held_since=row["held_since"].timestamp() if row["held_since"] else None,
            prediction=predicted(row),
            attained_gpu_s=float(row["used_gpu_seconds"]),
            clusters=where[row["id"]],
            interactive=row["kind"] == "interactive",
        )
        for row in queued_rows
    ]

    weights = dict(
        AllocationBudget.objects.filter(allocation_id__in=allocation_ids)
        .values("allocation_id")
        .annotate(total=Sum("awarded_gpu_hours"))
        .values_list("allocation_id", "total")
    )
    policy = policy_from_settings()
    # read only where the policy weighs them: a scan of the window's jobs
    waits = (
        recent_waits(allocation_ids, now, settings.GPUGRANT_PREEMPTION_BUDGET_WINDOW_S)
        if policy.preemption_wait_budget > 0
        else {}
    )
    allocations = tuple(
        AllocationState(
            str(pk),
            float(weights.get(pk, 0)),
            decayed_usage_at(usage, as_of, now),
            cap,
            *waits.get(pk, (0.0, 0.0)),
        )
        for pk, usage, as_of, cap, _region in allocation_rows
    )
    snapshot = Snapshot(
        epoch,
        nodes,
        tuple(running),
        tuple(queue),
        allocations,
        policy,
        _entitlements(eligible),
    )
    node_clusters = {row[1]: row[5] for row in nodes_rows if row[5] is not None}
    return snapshot, SnapshotIndex({row[1]: row[0] for row in nodes_rows}, public_ids, history, node_clusters)
