"""Fault points for the processes a reliability test starts (Celery worker, beat, gunicorn), armed from a file.

``GG_FAULT_FILE`` names a file. The test writes one fault into it; the next unit of work (a task, a request,
a publish) in any process started with that variable takes it — by renaming the file, so exactly one
process gets it and a restarted process runs clean — and then:

    kill:N    SIGKILLs its own process just before its N-th SQL statement of that unit of work
    drop:N    terminates its own PostgreSQL connection just before its N-th SQL statement
    kill:response   (web) SIGKILLs itself after the response is built, before a byte of it is sent

Before firing it writes ``<file>.fired``; a unit of work that ends before statement N writes
``<file>.missed`` with the number of statements it ran, so the test learns how many points there are.
"""

import os
import signal
from contextlib import contextmanager
from pathlib import Path


def fault_file() -> Path | None:
    name = os.environ.get("GG_FAULT_FILE")
    return Path(name) if name else None


def take() -> tuple[str, str] | None:
    """The armed fault as (kind, where), now owned by this process; None when none is armed."""
    path = fault_file()
    if path is None:
        return None
    mine = path.with_name(f"{path.name}.taken-{os.getpid()}")
    try:
        os.rename(path, mine)
    except FileNotFoundError:
        return None
    kind, _, where = mine.read_text().strip().partition(":")
    mine.unlink()
    return kind, where


def report(name: str, text: str) -> None:
    path = fault_file()
    tmp = path.with_name(f"{path.name}.{name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path.with_name(f"{path.name}.{name}"))


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _drop_own_connection(connection) -> None:
    """What a PostgreSQL restart or a network cut does to a session: it ends, mid-transaction or not."""
    import psycopg

    pid = connection.connection.info.backend_pid
    dsn = connection.get_connection_params()
    with psycopg.connect(
        host=dsn.get("host"), port=dsn.get("port"), user=dsn.get("user"), dbname=dsn.get("dbname")
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@contextmanager
def armed(fault: tuple[str, str] | None):
    """Apply a ``kill:N`` or ``drop:N`` fault to the SQL run inside the block."""
    if fault is None or not fault[1].isdigit():
        yield
        return
    from django.db import connection

    kind, at = fault[0], int(fault[1])
    seen = 0

    def wrapper(execute, sql, params, many, context):
        nonlocal seen
        seen += 1
        if seen == at:
            report("fired", f"{kind}:{at} {sql[:200]}")
            if kind == "kill":
                die()
            elif kind == "drop":
                _drop_own_connection(connection)
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(wrapper)
    try:
        yield
    finally:
        connection.execute_wrappers.remove(wrapper)
        if seen < at:
            report("missed", str(seen))
