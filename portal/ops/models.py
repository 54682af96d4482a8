"""Figures that Celery workers and portal processes write for /metrics and the health checks to read.

They live in the database because the process that scrapes or answers a probe is rarely the one that
ran the cycle or took the usage report.
"""

from django.db import models

# Upper bounds (seconds) of the cycle-duration histogram's buckets; the last bucket is +Inf.
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServiceStats(models.Model):
    """One row (pk 1): the last scheduling cycle and running totals since the database was created."""

    last_cycle_at = models.DateTimeField(null=True, blank=True, help_text="end of the last successful cycle")
    last_cycle_seconds = models.FloatField(default=0)
    cycles = models.BigIntegerField(default=0)
    cycle_seconds_sum = models.FloatField(default=0)
    # Cycles per CYCLE_BUCKETS bucket (not cumulative), plus one for longer cycles.
    cycle_buckets = models.JSONField(default=list)
    placements = models.JSONField(default=dict, help_text="GPU type → jobs started")
    placement_wait_seconds = models.JSONField(default=dict, help_text="GPU type → their summed queue wait")
    preemptions = models.BigIntegerField(default=0)
    bind_failures = models.BigIntegerField(default=0)
    budget_exhaustions = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "service stats"

    def __str__(self) -> str:
        return f"service stats (last cycle {self.last_cycle_at})"


class AgentReport(models.Model):
    """A node agent's latest usage report: when it came, and how much the agent still had spooled."""

    node = models.CharField(max_length=253, unique=True)
    reported_at = models.DateTimeField()
    spool_backlog = models.BigIntegerField(
        null=True, blank=True, help_text="records still spooled after the last report; null: not sent"
    )

    def __str__(self) -> str:
        return f"{self.node} reported {self.reported_at}"
