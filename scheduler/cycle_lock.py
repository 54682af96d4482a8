"""One scheduling cycle at a time, with a lock that dies with its holder.

On PostgreSQL it is a session advisory lock: a worker killed mid-cycle (kill -9, OOM) drops its connection
and the server releases the lock with it, so the next cycle runs at once. A cache key with a timeout, which
is all SQLite (the demo) offers, outlives a killed holder: cycles were skipped for its full timeout (60 s),
found by tests/reliability/test_worker_crash.py. Needs session-level connections (no transaction-mode
pgbouncer in front of the workers).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import DatabaseError, connection

CACHE_KEY = "scheduler:cycle-running"
ADVISORY_KEY = 0x6770_7567_6379  # any fixed 64-bit number, the same in every process
_held = threading.local()  # advisory locks nest within a session; a cycle started inside a cycle must not


@contextmanager
def cycle_lock() -> Iterator[bool]:
    """Yields True to the one caller that may run a cycle now; False means another cycle is running."""
    if connection.vendor != "postgresql":
        got = cache.add(CACHE_KEY, 1, timeout=60)
        try:
            yield got
        finally:
            if got:
                cache.delete(CACHE_KEY)
        return
    if getattr(_held, "lock", False):
        yield False
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY])
        got = cursor.fetchone()[0]
    _held.lock = got
    try:
        yield got
    finally:
        _held.lock = False
        if got:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
            except DatabaseError:
                connection.close()  # a broken session: closing it is what releases the lock
