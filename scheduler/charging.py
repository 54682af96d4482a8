"""Charging GPU time to jobs, their fair-share usage and their budgets, from usage records, exactly once.

The ledger (quotas/ledger.py) inserts each record once and debits budgets; this module charges the jobs
the new records belong to (their used time, energy and holds live on the scheduler's Job rows) and keeps
the fair-share usage. It decides nothing: it returns what was charged, and scheduler/metering.py (agent
reports) or scheduler/transitions.py (a run's bind/release edges) acts on it. One transaction, in the
lock order of docs/concurrency.md: Job rows by id → Allocation rows by id → AllocationBudget rows.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from quotas.ledger import budgets_debit, usage_insert
from scheduler.fair_usage import decayed_usage_add
from scheduler.models import Job


@dataclass
class Charged:
    """What one batch charged: new records, utilisation samples per job, and the budgets drawn on."""

    records: int = 0
    utilisation: dict[int, list[tuple[float, datetime, datetime]]] = field(default_factory=dict)
    budgets: list[tuple[int, str]] = field(default_factory=list)


def usage_charge(*, node: str, items: list[tuple[dict, dict]], source: str, now=None) -> Charged:
    """Insert records not seen before and charge them. Joins any transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        inserted = usage_insert(node=node, items=items, source=source, now=now)
        if not inserted:
            return Charged()
        by_job: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        by_budget: dict[tuple[int, str], int] = defaultdict(int)
        util: dict[int, list[tuple[float, datetime, datetime]]] = defaultdict(list)
        for record, job in inserted:
            by_job[job["pk"]][0] += record["gpu_seconds"]
            by_job[job["pk"]][1] += record["energy_mj"]
            by_budget[(job["allocation_id"], job["gpu_type"])] += record["gpu_seconds"]
            util[job["pk"]].append(
                (record["avg_utilisation_pct"], record["interval_start"], record["interval_end"])
            )
        released = _debit_jobs(by_job)
        per_allocation: dict[int, int] = defaultdict(int)
        for (allocation_id, _), seconds in by_budget.items():
            per_allocation[allocation_id] += seconds
        for allocation_id in sorted(per_allocation):
            decayed_usage_add(allocation_id=allocation_id, gpu_seconds=per_allocation[allocation_id], now=now)
        budgets_debit(by_budget, released)
    return Charged(len(inserted), dict(util), sorted(by_budget))


def _debit_jobs(by_job: dict[int, list[int]]) -> dict[tuple[int, str], int]:
    """Charge jobs and shrink their holds by what they used; returns hold released per budget.

    One locking read and one UPDATE … FROM (VALUES …) however many jobs the batch touches.
    """
    released: dict[tuple[int, str], int] = defaultdict(int)
    rows = []
    for pk, allocation_id, gpu_type, hold in (
        Job.objects.select_for_update()
        .filter(pk__in=list(by_job))
        .order_by("pk")
        .values_list("pk", "allocation_id", "gpu_type", "hold_gpu_seconds")
    ):
        seconds, energy = by_job[pk]
        release = min(hold, seconds)
        released[(allocation_id, gpu_type)] += release
        rows.append((pk, seconds, release, energy))
    table = Job._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                f"UPDATE {table} SET used_gpu_seconds = used_gpu_seconds + v.column2, "
                f"hold_gpu_seconds = hold_gpu_seconds - v.column3, energy_mj = energy_mj + v.column4 "
                f"FROM (VALUES {', '.join(['(%s, %s, %s, %s)'] * len(chunk))}) AS v WHERE {table}.id = v.column1",
                [value for row in chunk for value in row],
            )
    return released


def edges_record(job, node: str, run_started_at: datetime, released_at: datetime) -> tuple[dict, dict]:
    """The usage of a finished run from its bind/release edges, where no node agent meters (simulated)."""
    seconds = max(0, int((released_at - run_started_at).total_seconds()))
    run = f"edges-{int(run_started_at.timestamp() * 1000)}"  # one per run: its bind time in ms
    record = {
        "id": f"{job.public_id}:{run}:0:0",
        "job_id": str(job.public_id),
        "gpu_uuid": run,
        "epoch": 0,
        "sequence": 0,
        "interval_start": run_started_at,
        "interval_end": max(released_at, run_started_at),
        "gpu_seconds": job.gpus * seconds,
        "energy_mj": 0,
        "avg_utilisation_pct": 0.0,
        "avg_memory_bytes": 0,
        "estimated": True,
        "simulated": True,
        "quarantined": False,
    }
    row = {
        "pk": job.pk,
        "public_id": job.public_id,
        "allocation_id": job.allocation_id,
        "gpu_type": job.gpu_type,
        "placement": job.placement,
    }
    return record, row
