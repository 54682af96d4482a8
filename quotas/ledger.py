"""Applying usage records to the ledger exactly once, and what follows: budgets, exhaustion, idle GPUs.

A record is inserted with ON CONFLICT (record_id) DO NOTHING … RETURNING, and only the records this call
inserted are debited, in the same transaction: replays and concurrent duplicate posts change nothing.
Lock order (docs/concurrency.md): Job rows by id → Allocation rows by id → AllocationBudget rows.
"""

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from portal.notifications.services import notify
from portal.ops.stats import budget_exhaustion_recorded
from portal.organisations.selectors import owners_and_managers
from quotas.models import (
    SECONDS_PER_HOUR,
    AllocationBudget,
    LedgerEntry,
    UsageRecord,
    UsageSource,
)
from quotas.usage import decayed_usage_add
from scheduler import reasons

logger = logging.getLogger(__name__)
MAX_INTERVAL_S = 24 * 3600
# The times a usage record may carry (POST /usage checks them): no agent's clock reads earlier than this
# unless it is unset (1970), and none runs more than MAX_CLOCK_SKEW_S ahead of the portal's. A record
# far in the future would skew idle detection, lag metrics and monthly reports.
EARLIEST_USAGE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW_S = 3600


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)


def _epoch(value: datetime) -> float:
    return value.timestamp()


def record_problem(record: dict) -> str | None:
    """Why a (well-formed) record can never be accepted, or None."""
    expected = f"{record['job_id']}:{record['gpu_uuid']}:{record['epoch']}:{record['sequence']}"
    if record["id"] != expected:
        return f"id must be job:GPU UUID:epoch:sequence ({expected})"
    length = _epoch(record["interval_end"]) - _epoch(record["interval_start"])
    if length <= 0:
        return "the interval must end after it starts"
    if length > MAX_INTERVAL_S:
        return "intervals are at most one day"
    if record["gpu_seconds"] > math.ceil(length) + 1:
        return "a GPU cannot be bound longer than the interval"
    return None


def usage_ingest(*, node: str, records: list[dict]) -> IngestResult:
    """Apply records reported by ``node``'s agent; each is accepted once, a duplicate, or rejected."""
    from scheduler.models import Job

    result = IngestResult()
    jobs = {
        str(row["public_id"]): row
        for row in Job.objects.filter(public_id__in={r["job_id"] for r in records}).values(
            "pk", "public_id", "allocation_id", "gpu_type", "placement"
        )
    }
    valid = []
    seen = set()
    earlier_nodes = _nodes_of_earlier_runs(node, records, jobs)
    for record in records:
        problem = record_problem(record)
        job = jobs.get(str(record["job_id"]))
        if problem is None and job is None:
            problem = "no such job"
        if (
            problem is None
            and node not in {pod.get("node") for pod in job["placement"] or []}
            and job["pk"] not in earlier_nodes
        ):
            problem = "the job was not placed on this node"
        if problem is None and record["id"] in seen:
            result.duplicates += 1
            continue
        if problem:
            result.rejected.append({"id": record["id"], "reason": problem})
            continue
        seen.add(record["id"])
        valid.append((record, job))
    if valid:
        result.accepted = apply_usage(node=node, items=valid, source=UsageSource.AGENT)
        result.duplicates += len(valid) - result.accepted
    return result


def _nodes_of_earlier_runs(node: str, records: list[dict], jobs: dict[str, dict]) -> set[int]:
    """Jobs (pk) whose earlier run was placed on ``node``, among those now placed elsewhere.

    A preempted or requeued job may run on another node before the old node's agent delivers the last
    records of the old run; those records are still owed, so they must not be refused.
    """
    from scheduler.models import JobEvent
    from scheduler.states import JobState

    elsewhere = {
        job["pk"]
        for record in records
        if (job := jobs.get(str(record["job_id"]))) is not None
        and node not in {pod.get("node") for pod in job["placement"] or []}
    }
    if not elsewhere:
        return set()
    return {
        job_id
        for job_id, data in JobEvent.objects.filter(
            job_id__in=elsewhere, to_state=JobState.SCHEDULED
        ).values_list("job_id", "data")
        if node in {pod.get("node") for pod in (data or {}).get("placement", [])}
    }


def apply_usage(
    *, node: str, items: list[tuple[dict, dict]], source: str, now=None, enforce: bool = True
) -> int:
    """Insert records not seen before and debit them; returns how many were new. Joins any transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        inserted = _insert_new(node, items, source, now)
        if not inserted:
            return 0
        by_job: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        by_budget: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
        util: dict[int, list[tuple[float, datetime, datetime]]] = defaultdict(list)
        for _, (record, job) in inserted:
            by_job[job["pk"]][0] += record["gpu_seconds"]
            by_job[job["pk"]][1] += record["energy_mj"]
            key = (job["allocation_id"], job["gpu_type"])
            by_budget[key][0] += record["gpu_seconds"]
            by_budget[key][1] += record["energy_mj"]
            util[job["pk"]].append(
                (record["avg_utilisation_pct"], record["interval_start"], record["interval_end"])
            )
        _write_ledger_entries([usage_pk for usage_pk, _ in inserted], now)
        released = _debit_jobs(by_job)
        _debit_allocations(by_budget, released, now)
        if source == UsageSource.AGENT:
            _watch_idle(util)
        if enforce:
            _enforce_budgets(list(by_budget))
    return len(inserted)


COLUMNS = (
    "record_id",
    "job_id",
    "allocation_id",
    "gpu_type",
    "node",
    "gpu_uuid",
    "epoch",
    "sequence",
    "interval_start",
    "interval_end",
    "gpu_seconds",
    "energy_mj",
    "avg_utilisation_pct",
    "avg_memory_bytes",
    "estimated",
    "simulated",
    "quarantined",
    "source",
    "received_at",
)


PG_TYPES = (
    "varchar",
    "bigint",
    "bigint",
    "varchar",
    "varchar",
    "varchar",
    "integer",
    "integer",
    "timestamptz",
    "timestamptz",
    "bigint",
    "bigint",
    "float8",
    "bigint",
    "boolean",
    "boolean",
    "boolean",
    "varchar",
    "timestamptz",
)


def _insert_new(node, items, source, now) -> list[tuple[int, tuple[dict, dict]]]:
    by_id = {record["id"]: (record, job) for record, job in items}
    rows = []
    for record_id, (record, job) in by_id.items():
        rows.append(
            (
                record_id,
                job["pk"],
                job["allocation_id"],
                job["gpu_type"],
                node,
                record["gpu_uuid"],
                record["epoch"],
                record["sequence"],
                record["interval_start"],
                record["interval_end"],
                record["gpu_seconds"],
                record["energy_mj"],
                record["avg_utilisation_pct"],
                record["avg_memory_bytes"],
                record["estimated"],
                record["simulated"],
                record["quarantined"],
                source,
                now,
            )
        )
    table = UsageRecord._meta.db_table
    inserted = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Whole columns as arrays: 19 parameters per statement however many rows, which keeps
            # parameter handling off the hot path.
            columns = [list(column) for column in zip(*rows, strict=True)]
            unnest = ", ".join(f"%s::{kind}[]" for kind in PG_TYPES)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) SELECT * FROM unnest({unnest}) "
                f"ON CONFLICT (record_id) DO NOTHING RETURNING id, record_id",
                columns,
            )
            inserted.extend((pk, by_id[record_id]) for pk, record_id in cursor.fetchall())
        else:
            row = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
            for start in range(0, len(rows), 200):
                chunk = rows[start : start + 200]
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {', '.join([row] * len(chunk))} "
                    f"ON CONFLICT (record_id) DO NOTHING RETURNING id, record_id",
                    [value for r in chunk for value in r],
                )
                inserted.extend((pk, by_id[record_id]) for pk, record_id in cursor.fetchall())
    return inserted


def _write_ledger_entries(usage_pks: list[int], now) -> None:
    """One debit per newly inserted usage record, copied from it in the database."""
    ledger, usage = LedgerEntry._meta.db_table, UsageRecord._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {ledger} (usage_id, allocation_id, gpu_type, gpu_seconds, energy_mj, created_at) "
                f"SELECT id, allocation_id, gpu_type, gpu_seconds, energy_mj, %s FROM {usage} WHERE id = ANY(%s)",
                [now, usage_pks],
            )
            return
        for start in range(0, len(usage_pks), 1000):
            chunk = usage_pks[start : start + 1000]
            cursor.execute(
                f"INSERT INTO {ledger} (usage_id, allocation_id, gpu_type, gpu_seconds, energy_mj, created_at) "
                f"SELECT id, allocation_id, gpu_type, gpu_seconds, energy_mj, %s FROM {usage} "
                f"WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                [now, *chunk],
            )


def _debit_jobs(by_job: dict[int, list[int]]) -> dict[tuple[int, str], int]:
    """Charge jobs and shrink their holds by what they used; returns hold released per budget.

    One locking read and one UPDATE … FROM (VALUES …) however many jobs the batch touches.
    """
    from scheduler.models import Job

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


def _debit_allocations(by_budget, released, now) -> None:
    per_allocation: dict[int, int] = defaultdict(int)
    for (allocation_id, _), (seconds, _) in by_budget.items():
        per_allocation[allocation_id] += seconds
    for allocation_id in sorted(per_allocation):
        decayed_usage_add(allocation_id=allocation_id, gpu_seconds=per_allocation[allocation_id], now=now)
    for allocation_id, gpu_type in sorted(by_budget):
        seconds = by_budget[(allocation_id, gpu_type)][0]
        AllocationBudget.objects.select_for_update().filter(
            allocation_id=allocation_id, gpu_type=gpu_type
        ).first()
        AllocationBudget.objects.filter(allocation_id=allocation_id, gpu_type=gpu_type).update(
            used_gpu_seconds=F("used_gpu_seconds") + seconds,
            held_gpu_seconds=F("held_gpu_seconds") - released.get((allocation_id, gpu_type), 0),
        )


def _enforce_budgets(keys: list[tuple[int, str]]) -> None:
    """Warn at 80 % and 100 % of an award; stop the running jobs of a budget that is used up."""
    from scheduler.services import job_request_stop
    from scheduler.states import ACTIVE

    for allocation_id, gpu_type in sorted(keys):
        budget = AllocationBudget.objects.select_related("allocation__organisation").get(
            allocation_id=allocation_id, gpu_type=gpu_type
        )
        if not budget.awarded_gpu_seconds:
            continue
        percent = budget.used_gpu_seconds * 100 / budget.awarded_gpu_seconds
        for threshold in (80, 100):
            if percent >= threshold and AllocationBudget.objects.filter(
                pk=budget.pk, notified_percent__lt=threshold
            ).update(notified_percent=threshold):
                _notify_threshold(budget, threshold)
                if threshold == 100:
                    budget_exhaustion_recorded()
        if percent >= 100:
            from scheduler.models import Job

            for job in Job.objects.filter(
                allocation_id=allocation_id, gpu_type=gpu_type, state__in=list(ACTIVE), stop_requested=""
            ):
                job_request_stop(
                    job_pk=job.pk,
                    stop="exhausted",
                    reason=reasons.exhausting(gpu_type),
                )


def _notify_threshold(budget: AllocationBudget, threshold: int) -> None:
    allocation = budget.allocation
    used = budget.used_gpu_seconds / SECONDS_PER_HOUR
    if threshold >= 100:
        subject = gettext_lazy("{title}: {gpu_type} GPU-hours used up; running jobs are being stopped")
    else:
        # Translators: xgettext:no-python-format
        subject = gettext_lazy("{title}: {gpu_type} GPU-hours {threshold} % used")
    notify(
        recipients=owners_and_managers(allocation.organisation),
        subject=format_lazy(
            subject, title=allocation.project_title, gpu_type=budget.gpu_type, threshold=threshold
        ),
        body=format_lazy(
            gettext_lazy(
                "'{title}' has used {used} of {awarded} {gpu_type} GPU-hours. "
                "Request more through a change request on the allocation's page."
            ),
            title=allocation.project_title,
            used=f"{used:,.1f}",
            awarded=f"{budget.awarded_gpu_hours:,}",
            gpu_type=budget.gpu_type,
        ),
    )


def _watch_idle(util: dict[int, list[tuple[float, datetime, datetime]]]) -> None:
    """Flag jobs whose GPUs stay below the idle threshold; warn, then (by policy) stop them."""
    from scheduler.models import Job, JobEvent
    from scheduler.services import job_request_stop
    from scheduler.states import JobState

    threshold = settings.GPUGRANT_IDLE_UTILISATION_PCT
    for job in Job.objects.select_related("allocation", "organisation").filter(
        pk__in=list(util), state=JobState.RUNNING
    ):
        samples = util[job.pk]
        latest = max(end for _, _, end in samples)
        if max(pct for pct, _, _ in samples) >= threshold:
            if job.idle_since is not None:
                Job.objects.filter(pk=job.pk).update(idle_since=None, idle_warned_at=None)
            continue
        idle_since = job.idle_since or min(start for _, start, _ in samples)
        Job.objects.filter(pk=job.pk).update(idle_since=idle_since)
        idle_for = (latest - idle_since).total_seconds()
        if idle_for >= settings.GPUGRANT_IDLE_WARN_AFTER_S and job.idle_warned_at is None:
            Job.objects.filter(pk=job.pk).update(idle_warned_at=latest)
            minutes = int(idle_for // 60)
            JobEvent.objects.record(
                job=job,
                from_state=job.state,
                to_state=job.state,
                reason=reasons.idle_warning(minutes),
            )
            notify(
                recipients=[job.created_by, *owners_and_managers(job.organisation)],
                subject=format_lazy(gettext_lazy("Idle GPUs: {name}"), name=job.name),
                body=format_lazy(
                    gettext_lazy(
                        "The GPUs of job '{name}' have been below {threshold} % busy for {minutes} minutes. "
                        "Public GPUs are scarce: release them if the job is done, or gpugrant will stop it."
                    )
                    if job.allocation.idle_policy == "warn_then_stop"
                    else gettext_lazy(
                        "The GPUs of job '{name}' have been below {threshold} % busy for {minutes} minutes. "
                        "Public GPUs are scarce: release them if the job is done."
                    ),
                    name=job.name,
                    threshold=threshold,
                    minutes=minutes,
                ),
            )
        elif (
            idle_for >= settings.GPUGRANT_IDLE_STOP_AFTER_S
            and job.allocation.idle_policy == "warn_then_stop"
            and job.idle_warned_at is not None
        ):
            job_request_stop(
                job_pk=job.pk,
                stop="idle",
                reason=reasons.idle_stopping(int(idle_for // 60)),
            )


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


def epoch_to_datetime(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)
