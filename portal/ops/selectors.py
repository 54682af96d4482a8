"""Reading what the scheduler and the node agents last did: for staff warnings, metrics and readiness."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from portal.ops.models import AgentReport, ServiceStats
from scheduler.models import Gpu
from scheduler.states import JobState


def service_stats() -> ServiceStats | None:
    return ServiceStats.objects.filter(pk=1).first()


def last_cycle_at() -> datetime | None:
    return ServiceStats.objects.filter(pk=1).values_list("last_cycle_at", flat=True).first()


@dataclass(frozen=True)
class QuietScheduler:
    last_cycle_at: datetime | None  # None: no cycle has ever finished


def scheduler_quiet(now: datetime) -> QuietScheduler | None:
    """Set when the last successful cycle ended longer ago than GPUGRANT_SCHEDULER_QUIET_AFTER_S."""
    last = last_cycle_at()
    if last is not None and (now - last).total_seconds() <= settings.GPUGRANT_SCHEDULER_QUIET_AFTER_S:
        return None
    return QuietScheduler(last)


@dataclass(frozen=True)
class QuietAgent:
    node: str
    last_report_at: datetime | None


def nodes_with_running_jobs(*, started_before: datetime | None = None) -> set[str]:
    gpus = Gpu.objects.filter(job__state=JobState.RUNNING)
    if started_before is not None:
        gpus = gpus.filter(job__started_at__lt=started_before)
    return set(gpus.values_list("node__name", flat=True).distinct())


def quiet_agents(now: datetime) -> list[QuietAgent]:
    """Nodes running a job for longer than the threshold whose agent has not reported within it.

    Only where agents meter (GPUGRANT_METERING = "agent"): otherwise no agent is expected to report.
    A job younger than the threshold is left out, so a node that has just started one is not flagged
    before its agent's first report could have arrived.
    """
    if settings.GPUGRANT_METERING != "agent":
        return []
    cutoff = now - timedelta(seconds=settings.GPUGRANT_AGENT_QUIET_AFTER_S)
    nodes = nodes_with_running_jobs(started_before=cutoff)
    if not nodes:
        return []
    reported = dict(AgentReport.objects.filter(node__in=nodes).values_list("node", "reported_at"))
    return [
        QuietAgent(node, reported.get(node))
        for node in sorted(nodes)
        if reported.get(node) is None or reported[node] < cutoff
    ]
