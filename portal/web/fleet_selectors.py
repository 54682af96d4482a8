"""The fleet for staff: GPUs by state per node, the queue per GPU type, awarded hours used per
organisation, and jobs whose GPUs sit idle — each shaped for its chart and table."""

from datetime import datetime

from django.db.models import Sum

from portal.web.charts import bar_chart
from portal.web.fleet_chart import stacked_bars
from quotas.models import SECONDS_PER_HOUR, AllocationBudget, AllocationStatus
from scheduler.models import Gpu, Job
from scheduler.states import JobState

# busy: a job's; idle: a job's, flagged idle; reserved: free but held for a queued job that preempted
# for it; free; external: held by a workload gpugrant does not own.
GPU_STATES = ["busy", "idle", "reserved", "free", "external"]


def _gpu_state(gpu: Gpu, held_nodes: set[str]) -> str:
    if gpu.external:
        return "external"
    if gpu.job_id:
        return "idle" if gpu.job.idle_since else "busy"
    return "reserved" if gpu.node.name in held_nodes else "free"


def fleet_gpus() -> dict:
    """Per node (with its GPU type, provider and cluster): how many GPUs are in each of GPU_STATES, the
    same summed per provider and cluster, and the chart; nodes grouped by provider and cluster (nodes of
    no registered cluster last)."""
    held_nodes = {
        name
        for held in Job.objects.filter(state=JobState.QUEUED)
        .exclude(held_nodes=[])
        .values_list("held_nodes", flat=True)
        for name in held
    }
    nodes: dict[str, dict] = {}
    for gpu in Gpu.objects.select_related("node__cluster__provider", "job").order_by("node__name", "index"):
        cluster = gpu.node.cluster
        node = nodes.setdefault(
            gpu.node.name,
            {
                "node": gpu.node.name,
                "gpu_type": gpu.node.gpu_type,
                "provider": cluster.provider.name if cluster else "",
                "cluster": cluster.name if cluster else "",
                "region": cluster.get_region_display() if cluster else "",
                "cluster_state": cluster.get_state_display() if cluster else "",
                "counts": dict.fromkeys(GPU_STATES, 0),
            },
        )
        node["counts"][_gpu_state(gpu, held_nodes)] += 1
    rows = sorted(
        nodes.values(), key=lambda row: (not row["cluster"], row["provider"], row["cluster"], row["node"])
    )
    clusters: dict[tuple[str, str], dict] = {}
    for row in rows:
        group = clusters.setdefault(
            (row["provider"], row["cluster"]),
            {key: row[key] for key in ("provider", "cluster", "region", "cluster_state")}
            | {"nodes": 0, "counts": dict.fromkeys(GPU_STATES, 0)},
        )
        group["nodes"] += 1
        for state, count in row["counts"].items():
            group["counts"][state] += count
    for group in clusters.values():
        group["total"] = sum(group["counts"].values())
    return {
        "rows": rows,
        "clusters": list(clusters.values()),
        "chart": stacked_bars(
            [(f"{_where(row)}{row['node']} ({row['gpu_type']})", row["counts"]) for row in rows], GPU_STATES
        ),
    }


def _where(row: dict) -> str:
    return f"{row['cluster']} · " if row["cluster"] else ""


def queue_by_gpu_type(*, now: datetime) -> dict:
    """Per GPU type: queued jobs, the GPUs they ask for, and their mean and longest wait in minutes."""
    types: dict[str, dict] = {}
    for gpu_type, queued_at, gpus_per_pod, pods in Job.objects.filter(state=JobState.QUEUED).values_list(
        "gpu_type", "queued_at", "gpus_per_pod", "pods"
    ):
        row = types.setdefault(gpu_type, {"gpu_type": gpu_type, "jobs": 0, "gpus": 0, "waits": []})
        row["jobs"] += 1
        row["gpus"] += gpus_per_pod * pods
        row["waits"].append(max((now - queued_at).total_seconds() / 60, 0.0))
    rows = []
    for gpu_type in sorted(types):
        row = types[gpu_type]
        waits = row.pop("waits")
        rows.append(
            {
                **row,
                "mean_wait_minutes": round(sum(waits) / len(waits)),
                "longest_wait_minutes": round(max(waits)),
            }
        )
    return {
        "rows": rows,
        "depth_chart": bar_chart([(row["gpu_type"], float(row["jobs"])) for row in rows]),
        "wait_chart": bar_chart([(row["gpu_type"], float(row["mean_wait_minutes"])) for row in rows]),
    }


def awarded_hours_used_by_organisation() -> dict:
    """Per organisation with active allocations: GPU-hours awarded, used, and the share used (%)."""
    rows = []
    totals = (
        AllocationBudget.objects.filter(allocation__status=AllocationStatus.ACTIVE)
        .values("allocation__organisation__name")
        .annotate(awarded=Sum("awarded_gpu_hours"), used=Sum("used_gpu_seconds"))
        .order_by("allocation__organisation__name")
    )
    for total in totals:
        used_hours = total["used"] / SECONDS_PER_HOUR
        rows.append(
            {
                "organisation": total["allocation__organisation__name"],
                "awarded_hours": total["awarded"],
                "used_hours": round(used_hours, 2),
                "used_pct": round(100 * used_hours / total["awarded"], 1) if total["awarded"] else 0.0,
            }
        )
    return {"rows": rows, "chart": bar_chart([(row["organisation"], row["used_pct"]) for row in rows])}


def idle_offenders():
    """Running jobs whose GPUs are flagged idle, the longest idle first."""
    return (
        Job.objects.filter(state=JobState.RUNNING, idle_since__isnull=False)
        .select_related("organisation", "allocation")
        .order_by("idle_since")
    )
