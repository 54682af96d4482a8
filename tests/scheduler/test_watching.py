import threading

import pytest
from django.core.management import CommandError, call_command

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.watching import watch_and_reconcile
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


def test_it_reconciles_the_jobs_a_watch_reports(backend, owner, allocation, monkeypatch):
    inventory_sync(backend=backend)
    job = submit(owner, allocation)
    run_cycle(backend=backend)
    requested = []
    monkeypatch.setattr("scheduler.watching.request_cycle", lambda: requested.append(True))
    backend.set_phase(str(job.public_id), Phase.SUCCEEDED, exit_code=0)

    def watch(on_change, stop):  # a backend that reports one change, then ends its watch
        on_change({str(job.public_id)})
        stop.set()

    backend.watch = watch
    watch_and_reconcile(backend, threading.Event())
    job.refresh_from_db()
    assert job.state == "succeeded" and requested == [True]


def test_the_command_refuses_a_backend_without_a_watch(backend):
    with pytest.raises(CommandError, match="has no watch"):
        call_command("scheduler_watch")
