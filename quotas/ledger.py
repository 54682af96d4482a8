"""The ledger: usage records inserted exactly once, their debits, and the budgets they draw on.

A record is inserted with ON CONFLICT (record_id) DO NOTHING … RETURNING, and only the records a call
inserted are debited, in the caller's transaction: replays and concurrent duplicate posts change nothing.
This module reports what happened (which records were new, which budget thresholds were crossed);
scheduler/metering.py charges the jobs and scheduler/enforcement.py decides what follows (notify, stop).
Lock order (docs/concurrency.md): Job rows by id → Allocation rows by id → AllocationBudget rows.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import F

from quotas.models import AllocationBudget, LedgerEntry, UsageRecord

MAX_INTERVAL_S = 24 * 3600
# The times a usage record may carry (POST /usage checks them): no agent's clock reads earlier than this
# unless it is unset (1970), and none runs more than MAX_CLOCK_SKEW_S ahead of the portal's. A record
# far in the future would skew idle detection, lag metrics and monthly reports.
EARLIEST_USAGE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW_S = 3600


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


def usage_insert(*, node: str, items: list[tuple[dict, dict]], source: str, now) -> list[tuple[dict, dict]]:
    """Insert the records not seen before, each with its ledger debit; returns the (record, job) pairs
    this call inserted. ``job`` is the plain row {pk, allocation_id, gpu_type, …} the record is charged to.
    Call it inside a transaction that also charges the jobs and budgets (scheduler/metering.py)."""
    inserted = _insert_new(node, items, source, now)
    if inserted:
        _write_ledger_entries([usage_pk for usage_pk, _ in inserted], now)
    return [item for _, item in inserted]


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


def budgets_debit(by_budget: dict[tuple[int, str], int], released: dict[tuple[int, str], int]) -> None:
    """Add GPU-seconds used to each (allocation, GPU type) budget and shrink its hold by ``released``."""
    for allocation_id, gpu_type in sorted(by_budget):
        AllocationBudget.objects.select_for_update().filter(
            allocation_id=allocation_id, gpu_type=gpu_type
        ).first()
        AllocationBudget.objects.filter(allocation_id=allocation_id, gpu_type=gpu_type).update(
            used_gpu_seconds=F("used_gpu_seconds") + by_budget[(allocation_id, gpu_type)],
            held_gpu_seconds=F("held_gpu_seconds") - released.get((allocation_id, gpu_type), 0),
        )


THRESHOLDS = (80, 100)  # per cent of an award at which its organisation hears of it


@dataclass(frozen=True)
class BudgetState:
    """A budget after a debit: the thresholds it crossed just now (each reported once, ever)."""

    budget: AllocationBudget
    crossed: tuple[int, ...]

    @property
    def used_up(self) -> bool:
        return self.budget.used_gpu_seconds >= self.budget.awarded_gpu_seconds


def budgets_crossed(keys: list[tuple[int, str]]) -> list[BudgetState]:
    """The awarded budgets among ``keys``, each with the thresholds it crossed for the first time.

    A threshold is claimed by a conditional UPDATE of notified_percent, so concurrent debits report it
    once between them.
    """
    states = []
    for allocation_id, gpu_type in sorted(keys):
        budget = AllocationBudget.objects.select_related("allocation__organisation").get(
            allocation_id=allocation_id, gpu_type=gpu_type
        )
        if not budget.awarded_gpu_seconds:
            continue
        percent = budget.used_gpu_seconds * 100 / budget.awarded_gpu_seconds
        crossed = tuple(
            threshold
            for threshold in THRESHOLDS
            if percent >= threshold
            and AllocationBudget.objects.filter(pk=budget.pk, notified_percent__lt=threshold).update(
                notified_percent=threshold
            )
        )
        states.append(BudgetState(budget, crossed))
    return states


def epoch_to_datetime(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)
