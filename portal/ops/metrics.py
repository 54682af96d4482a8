"""The Prometheus series behind /metrics, all named ``gpugrant_…``.

Two sources. Per-request figures (HTTP latency and errors, usage-ingestion lag) are counted in the web
process that served the request; under gunicorn each worker is its own process, so with
PROMETHEUS_MULTIPROC_DIR set prometheus_client keeps them in files there and a scrape sums all workers.
Everything else (queue, GPUs, scheduler cycles, budgets, agents) is read from the database at scrape
time, because Celery workers and other portal processes produce it (portal/ops/stats.py).
"""

import logging
import os
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from portal.ops.models import CYCLE_BUCKETS, AgentReport
from portal.ops.selectors import nodes_with_running_jobs, quiet_agents, service_stats
from scheduler.models import Gpu, GpuNode, Job
from scheduler.states import JobState

logger = logging.getLogger(__name__)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

HTTP_DURATION = Histogram(
    "gpugrant_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_SERVER_ERRORS = Counter(
    "gpugrant_http_server_errors",
    "Requests answered with a 5xx status, by method, route template and status.",
    ["method", "route", "status"],
)
USAGE_INGESTION_LAG = Histogram(
    "gpugrant_usage_ingestion_lag_seconds",
    "Seconds from the end of a usage record's interval to its arrival at the portal.",
    buckets=(5, 10, 15, 30, 60, 120, 300, 900, 3600, 6 * 3600, 24 * 3600),
)


def request_observed(*, method: str, route: str, status: int, seconds: float) -> None:
    # Unknown methods would each open a series: anyone can send any method.
    method = method if method in HTTP_METHODS else "other"
    HTTP_DURATION.labels(method, route, str(status)).observe(seconds)
    if status >= 500:
        HTTP_SERVER_ERRORS.labels(method, route, str(status)).inc()


def usage_arrived(*, interval_ends: list[float], now: float) -> None:
    for end in interval_ends:
        USAGE_INGESTION_LAG.observe(max(0.0, now - end))


class DatabaseCollector(Collector):
    """Reads, at scrape time, what other processes left in the database."""

    def collect(self):
        now = timezone.now()
        healthy = 1
        try:
            yield from _queue(now)
            yield from _gpus(now)
            yield from _scheduler()
            yield from _agents(now)
        except DatabaseError:
            # The per-process series still go out; this says why the database's are missing.
            logger.warning("metrics: the database could not be read", exc_info=True)
            healthy = 0
        yield GaugeMetricFamily(
            "gpugrant_metrics_database_up",
            "1 if this scrape could read the database's series.",
            value=healthy,
        )


def _queue(now):
    jobs = GaugeMetricFamily("gpugrant_queue_jobs", "Jobs waiting in the queue.", labels=["gpu_type"])
    gpus = GaugeMetricFamily("gpugrant_queue_gpus", "GPUs the queued jobs ask for.", labels=["gpu_type"])
    oldest = GaugeMetricFamily(
        "gpugrant_queue_oldest_wait_seconds",
        "How long the longest-waiting queued job has waited (0 with an empty queue).",
        labels=["gpu_type"],
    )
    rows = {
        row["gpu_type"]: row
        for row in Job.objects.filter(state=JobState.QUEUED)
        .values("gpu_type")
        .annotate(jobs=Count("id"), gpus=Sum(F("gpus_per_pod") * F("pods")), oldest=Min("queued_at"))
    }
    # Types without a queue still report 0, so that a panel shows an empty queue rather than no data.
    gpu_types = set(GpuNode.objects.values_list("gpu_type", flat=True).distinct()) | set(rows)
    for gpu_type in sorted(gpu_types):
        row = rows.get(gpu_type)
        jobs.add_metric([gpu_type], row["jobs"] if row else 0)
        gpus.add_metric([gpu_type], row["gpus"] if row else 0)
        oldest.add_metric([gpu_type], max(0.0, (now - row["oldest"]).total_seconds()) if row else 0.0)
    yield from (jobs, gpus, oldest)


def _gpus(now):
    """Each GPU in one state: busy (claimed by a job), reserved (free, on a node held for a job that
    preempted there), unavailable (free, but the node is cordoned or another workload holds it), idle."""
    family = GaugeMetricFamily(
        "gpugrant_gpus",
        "GPUs by node, GPU type and state (busy, idle, reserved, unavailable).",
        labels=["gpu_type", "node", "state"],
    )
    hold_cutoff = now - timedelta(seconds=settings.GPUGRANT_PREEMPTION_HOLD_S)
    held = {
        node
        for nodes in Job.objects.filter(state=JobState.QUEUED, held_since__gte=hold_cutoff).values_list(
            "held_nodes", flat=True
        )
        for node in nodes or []
    }
    counts = defaultdict(lambda: {"busy": 0, "idle": 0, "reserved": 0, "unavailable": 0})
    for row in Gpu.objects.values("node__name", "node__gpu_type", "node__schedulable").annotate(
        busy=Count("id", filter=Q(job__isnull=False)),
        external=Count("id", filter=Q(job__isnull=True, external=True)),
        total=Count("id"),
    ):
        state = counts[(row["node__gpu_type"], row["node__name"])]
        free = row["total"] - row["busy"] - row["external"]
        state["busy"] = row["busy"]
        state["unavailable"] = row["external"]
        if not row["node__schedulable"]:
            state["unavailable"] += free
        elif row["node__name"] in held:
            state["reserved"] = free
        else:
            state["idle"] = free
    for (gpu_type, node), states in sorted(counts.items()):
        for state, value in states.items():
            family.add_metric([gpu_type, node, state], value)
    yield family


def _scheduler():
    stats = service_stats()
    if stats is None:
        return
    if stats.last_cycle_at is not None:
        yield GaugeMetricFamily(
            "gpugrant_scheduler_last_cycle_timestamp_seconds",
            "When the last successful scheduling cycle ended (Unix time).",
            value=stats.last_cycle_at.timestamp(),
        )
    yield GaugeMetricFamily(
        "gpugrant_scheduler_last_cycle_duration_seconds",
        "How long the last successful scheduling cycle took.",
        value=stats.last_cycle_seconds,
    )
    cumulative, buckets = 0, []
    for bound, count in zip(
        [*map(str, CYCLE_BUCKETS), "+Inf"], stats.cycle_buckets or [0] * (len(CYCLE_BUCKETS) + 1), strict=True
    ):
        cumulative += count
        buckets.append((bound, cumulative))
    duration = HistogramMetricFamily(
        "gpugrant_scheduler_cycle_duration_seconds", "Duration of successful scheduling cycles."
    )
    duration.add_metric([], buckets, stats.cycle_seconds_sum)
    yield duration
    placements = CounterMetricFamily(
        "gpugrant_scheduler_placements", "Jobs the scheduler started, by GPU type.", labels=["gpu_type"]
    )
    wait = SummaryMetricFamily(
        "gpugrant_scheduler_placement_wait_seconds",
        "Time the jobs it started had waited in the queue, by GPU type.",
        labels=["gpu_type"],
    )
    for gpu_type in sorted(stats.placements):
        placements.add_metric([gpu_type], stats.placements[gpu_type])
        wait.add_metric(
            [gpu_type], stats.placements[gpu_type], stats.placement_wait_seconds.get(gpu_type, 0.0)
        )
    yield placements
    yield wait
    yield CounterMetricFamily(
        "gpugrant_scheduler_preemptions",
        "Running jobs the scheduler chose to preempt.",
        value=stats.preemptions,
    )
    yield CounterMetricFamily(
        "gpugrant_scheduler_bind_failures",
        "Claimed jobs the backend failed to start.",
        value=stats.bind_failures,
    )
    yield CounterMetricFamily(
        "gpugrant_budget_exhaustions",
        "Times an allocation's GPU-hours for a GPU type ran out (its jobs are then stopped).",
        value=stats.budget_exhaustions,
    )


def _agents(now):
    last = GaugeMetricFamily(
        "gpugrant_node_agent_last_report_timestamp_seconds",
        "When the node's agent last reported usage (Unix time).",
        labels=["node"],
    )
    backlog = GaugeMetricFamily(
        "gpugrant_node_agent_spool_backlog_records",
        "Usage records still in the node agent's spool after its last report.",
        labels=["node"],
    )
    for node, reported_at, spooled in AgentReport.objects.order_by("node").values_list(
        "node", "reported_at", "spool_backlog"
    ):
        last.add_metric([node], reported_at.timestamp())
        if spooled is not None:
            backlog.add_metric([node], spooled)
    quiet = GaugeMetricFamily(
        "gpugrant_node_agent_quiet",
        "1 where a node runs jobs but its agent has not reported within GPUGRANT_AGENT_QUIET_AFTER_S.",
        labels=["node"],
    )
    silent = {agent.node for agent in quiet_agents(now)}
    for node in sorted(nodes_with_running_jobs() | silent):
        quiet.add_metric([node], 1 if node in silent else 0)
    yield from (last, backlog, quiet)


class _InProcess(Collector):
    """This process's own metrics (and prometheus_client's process and platform collectors)."""

    def collect(self):
        return REGISTRY.collect()


def exposition() -> bytes:
    """The text format of every series: this process's (or all workers', in multiprocess mode) and the database's."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_InProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry)
