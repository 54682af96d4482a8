"""The node agent's crash-safe spool: usage records waiting to be sent, and the meter state behind them.

One SQLite file (WAL, ``synchronous=FULL``). ``append`` writes a report's records together with the
state that produced them — per (job, GPU) the epoch, the next sequence and the end of the last
reported interval; per GPU the last energy counter value and its epoch — in one transaction, so a
``kill -9`` at any moment leaves both or neither: after a restart the agent continues exactly where
the last committed report ended, never re-using a sequence and never skipping a second.

Records leave the spool only when the portal has answered for them (``ack``). Nothing else deletes
them, so an outage of any length only grows the file.
"""

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workers.records import UsageRecord

SPOOL_FILE = "spool.sqlite3"
# Epochs of GPUs the spool has never seen start at the spool's creation time in seconds since this
# base, so that an agent whose spool was lost (a new one is created) cannot re-use a record id that
# an earlier spool already sent with other figures. It stays within the portal's 32-bit epoch field.
EPOCH_BASE = 1_704_067_200  # 2024-01-01T00:00:00Z

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    spooled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_records (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    spooled_at REAL NOT NULL,
    buried_at REAL NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS binding_state (
    job_id TEXT NOT NULL,
    gpu_uuid TEXT NOT NULL,
    bound_at REAL NOT NULL,
    epoch INTEGER NOT NULL,
    next_sequence INTEGER NOT NULL,
    last_interval_end REAL NOT NULL,
    released INTEGER NOT NULL,
    PRIMARY KEY (job_id, gpu_uuid)
);
CREATE TABLE IF NOT EXISTS gpu_state (
    gpu_uuid TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    last_energy_mj INTEGER,
    last_closed_at REAL
);
"""


@dataclass(frozen=True)
class BindingState:
    """Where reporting stands for one GPU bound to one job (the key is job_id + gpu_uuid)."""

    job_id: str
    gpu_uuid: str
    bound_at: float  # the binding these figures belong to (a later run of the job has another)
    epoch: int  # the epoch of the last record sent for it
    next_sequence: int  # the sequence the next record in ``epoch`` gets
    last_interval_end: float  # everything before this is in records already
    released: bool = False  # its final record is written: nothing more to report


@dataclass(frozen=True)
class GpuState:
    """One GPU's meter, as restored after a restart."""

    gpu_uuid: str
    epoch: int
    last_energy_mj: int | None  # the counter at the last read, to carry deltas across a restart
    last_closed_at: float | None  # when its last interval was closed


@dataclass(frozen=True)
class PendingRecord:
    id: str
    wire: dict  # UsageRecord.to_wire()
    spooled_at: float


@dataclass(frozen=True)
class Backlog:
    count: int
    oldest_age_seconds: float  # 0 when empty


class Spool:
    """Open (or create) the spool in ``directory``. One instance per thread: sqlite3 connections are."""

    def __init__(self, directory: Path | str, *, clock=time.time):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.directory / SPOOL_FILE
        self.clock = clock
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', ?)", (repr(self.clock()),)
            )
        self.created_at = float(self._meta("created_at"))

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing ----------------------------------------------------------------------------------

    def append(
        self, records: Iterable[UsageRecord], state_updates: Iterable[BindingState | GpuState] = ()
    ) -> None:
        """Spool ``records`` and the state that produced them, atomically and durably.

        A record whose id is already spooled is left as it is (ids are deterministic: same figures).
        """
        now = self.clock()
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO records (id, body, spooled_at) VALUES (?, ?, ?)",
                [(record.id, json.dumps(record.to_wire()), now) for record in records],
            )
            for update in state_updates:
                if isinstance(update, BindingState):
                    self._db.execute(
                        "INSERT OR REPLACE INTO binding_state (job_id, gpu_uuid, bound_at, epoch, "
                        "next_sequence, last_interval_end, released) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            update.job_id,
                            update.gpu_uuid,
                            update.bound_at,
                            update.epoch,
                            update.next_sequence,
                            update.last_interval_end,
                            int(update.released),
                        ),
                    )
                elif isinstance(update, GpuState):
                    self._db.execute(
                        "INSERT OR REPLACE INTO gpu_state (gpu_uuid, epoch, last_energy_mj, last_closed_at) "
                        "VALUES (?, ?, ?, ?)",
                        (update.gpu_uuid, update.epoch, update.last_energy_mj, update.last_closed_at),
                    )
                else:
                    raise TypeError(f"not a state update: {update!r}")

    def ack(self, ids: Iterable[str]) -> int:
        """Forget records the portal has answered for (accepted, duplicate or rejected); how many went."""
        ids = list(ids)
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany("DELETE FROM records WHERE id = ?", [(record_id,) for record_id in ids])
            return self._db.total_changes - before

    def bury(self, ids: Iterable[str], reason: str) -> int:
        """Move records the portal can never take (it refused them as malformed) out of the send queue.

        They stay in the file (table ``dead_records``) for an operator to inspect; nothing is deleted.
        """
        ids = list(ids)
        now = self.clock()
        with self._transaction():
            before = self._db.total_changes
            for record_id in ids:
                self._db.execute(
                    "INSERT OR REPLACE INTO dead_records (id, body, spooled_at, buried_at, reason) "
                    "SELECT id, body, spooled_at, ?, ? FROM records WHERE id = ?",
                    (now, reason[:2000], record_id),
                )
                self._db.execute("DELETE FROM records WHERE id = ?", (record_id,))
            return (self._db.total_changes - before) // 2

    def buried(self) -> list[tuple[str, str]]:
        """(id, reason) of every record set aside by ``bury``."""
        return self._db.execute("SELECT id, reason FROM dead_records ORDER BY buried_at, id").fetchall()

    # --- reading ----------------------------------------------------------------------------------

    def pending(self, limit: int) -> list[PendingRecord]:
        """Up to ``limit`` unsent records, oldest first."""
        rows = self._db.execute(
            "SELECT id, body, spooled_at FROM records ORDER BY position LIMIT ?", (limit,)
        ).fetchall()
        return [
            PendingRecord(record_id, json.loads(body), spooled_at) for record_id, body, spooled_at in rows
        ]

    def backlog(self) -> Backlog:
        count, oldest = self._db.execute("SELECT COUNT(*), MIN(spooled_at) FROM records").fetchone()
        return Backlog(count, 0.0 if oldest is None else max(0.0, self.clock() - oldest))

    def binding_states(self) -> dict[tuple[str, str], BindingState]:
        rows = self._db.execute(
            "SELECT job_id, gpu_uuid, bound_at, epoch, next_sequence, last_interval_end, released "
            "FROM binding_state"
        ).fetchall()
        return {(row[0], row[1]): BindingState(*row[:6], released=bool(row[6])) for row in rows}

    def gpu_states(self) -> dict[str, GpuState]:
        rows = self._db.execute(
            "SELECT gpu_uuid, epoch, last_energy_mj, last_closed_at FROM gpu_state"
        ).fetchall()
        return {row[0]: GpuState(*row) for row in rows}

    def first_epoch(self) -> int:
        """The epoch a GPU this spool has never seen starts at (see EPOCH_BASE)."""
        return max(0, int(self.created_at) - EPOCH_BASE)

    # --- helpers ----------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, traceback):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
