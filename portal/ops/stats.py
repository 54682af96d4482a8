"""Writing the figures /metrics reads: once per scheduling cycle, per budget that runs out, per report."""

import bisect
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import F

from portal.ops.models import CYCLE_BUCKETS, AgentReport, ServiceStats
from scheduler.signals import budget_exhausted, cycle_finished

STATS_PK = 1


def _locked_stats() -> ServiceStats:
    """The stats row, locked; created on first use (a fresh database, or one a test emptied)."""
    stats = ServiceStats.objects.select_for_update().filter(pk=STATS_PK).first()
    if stats is None:
        try:
            with transaction.atomic():
                ServiceStats.objects.create(pk=STATS_PK)
        except IntegrityError:
            pass  # a concurrent first writer created it
        stats = ServiceStats.objects.select_for_update().get(pk=STATS_PK)
    return stats


def cycle_recorded(
    *, finished_at, seconds: float, started: list[tuple[str, float]], preemptions: int, bind_failures: int
) -> None:
    """Count a successful cycle; ``started``: (GPU type, seconds waited in the queue) per job it started."""
    placements: dict[str, int] = defaultdict(int)
    waits: dict[str, float] = defaultdict(float)
    for gpu_type, waited in started:
        placements[gpu_type] += 1
        waits[gpu_type] += waited
    with transaction.atomic():
        stats = _locked_stats()
        buckets = list(stats.cycle_buckets) or [0] * (len(CYCLE_BUCKETS) + 1)
        buckets[bisect.bisect_left(CYCLE_BUCKETS, seconds)] += 1
        stats.cycle_buckets = buckets
        stats.last_cycle_at = finished_at
        stats.last_cycle_seconds = seconds
        stats.cycles += 1
        stats.cycle_seconds_sum += seconds
        for gpu_type, count in placements.items():
            stats.placements[gpu_type] = stats.placements.get(gpu_type, 0) + count
            stats.placement_wait_seconds[gpu_type] = (
                stats.placement_wait_seconds.get(gpu_type, 0) + waits[gpu_type]
            )
        stats.preemptions += preemptions
        stats.bind_failures += bind_failures
        stats.save()


def budget_exhaustion_recorded() -> None:
    if not ServiceStats.objects.filter(pk=STATS_PK).update(budget_exhaustions=F("budget_exhaustions") + 1):
        with transaction.atomic():
            stats = _locked_stats()
            stats.budget_exhaustions += 1
            stats.save(update_fields=["budget_exhaustions"])


def agent_report_recorded(*, node: str, now, spool_backlog: int | None) -> None:
    """One upsert statement per report; an agent that sends no backlog keeps the last one it sent."""
    fields = ["reported_at"] if spool_backlog is None else ["reported_at", "spool_backlog"]
    AgentReport.objects.bulk_create(
        [AgentReport(node=node, reported_at=now, spool_backlog=spool_backlog)],
        update_conflicts=True,
        unique_fields=["node"],
        update_fields=fields,
    )


def _on_cycle_finished(
    sender, *, finished_at, seconds, started, preemptions, bind_failures, **kwargs
) -> None:
    cycle_recorded(
        finished_at=finished_at,
        seconds=seconds,
        started=started,
        preemptions=preemptions,
        bind_failures=bind_failures,
    )


def _on_budget_exhausted(sender, **kwargs) -> None:
    budget_exhaustion_recorded()


def connect_scheduler_signals() -> None:
    """Keep the scheduler's reports (scheduler/signals.py) as /metrics figures, in every process."""
    cycle_finished.connect(_on_cycle_finished, dispatch_uid="ops.cycle_finished")
    budget_exhausted.connect(_on_budget_exhausted, dispatch_uid="ops.budget_exhausted")
