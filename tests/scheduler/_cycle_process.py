"""Entry points for multi-process scheduler tests, run in spawned interpreters.

Imports nothing from Django at the top: a spawned child imports this module before Django is set up.
"""

import os
import signal


def _setup(database_name):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection

    connection.settings_dict["NAME"] = database_name  # the test database, not the development one
    return connection


def _nodes():
    from scheduler.backends.base import NodeInfo

    return [NodeInfo("node-a", "A100", 8), NodeInfo("node-h", "H100", 8)]


def run_cycles(database_name, cycles, barrier, results) -> None:
    connection = _setup(database_name)
    from scheduler.cycle import run_cycle
    from tests.scheduler.fakes import ScriptedBackend

    backend = ScriptedBackend(_nodes())
    claimed = 0
    try:
        connection.ensure_connection()
        barrier.wait(timeout=60)
        for _ in range(cycles):
            claimed += run_cycle(backend=backend, sync_inventory=False, estimate=False).claimed
        results.put(("ok", claimed))
    except Exception as exc:  # noqa: BLE001 - the parent fails the test on anything reported here
        results.put(("error", repr(exc)))
    finally:
        connection.close()


class _DieInBind:
    """A backend whose bind kills its own process with SIGKILL: the claim is committed, the bind never runs."""

    name = "scripted"

    def inventory(self):
        return _nodes()

    def bind(self, spec):
        os.kill(os.getpid(), signal.SIGKILL)

    def stop(self, job_id, reason):
        pass

    def statuses(self, job_ids):
        return []

    def logs(self, job_id, limit_bytes):
        return ""


def die_between_claim_and_bind(database_name) -> None:
    _setup(database_name)
    from scheduler.cycle import run_cycle

    run_cycle(backend=_DieInBind(), sync_inventory=False, estimate=False)
