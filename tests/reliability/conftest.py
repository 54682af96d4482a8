"""Fixtures for the reliability suite: the real stack in separate processes, and the fault-loop size.

GPUGRANT_FAULT_LOOPS=full runs every fault point; otherwise (CI) each loop runs a bounded sample.
"""

import os

import pytest

from scheduler import backends
from scheduler.backends.local import LocalBackend
from scheduler.inventory import inventory_sync
from tests.reliability.stack import Stack

FULL = os.environ.get("GPUGRANT_FAULT_LOOPS", "").lower() == "full"


def sample(points: list, ci: int) -> list:
    """Every point on demand; in CI ``ci`` of them spread from first to last, so both ends are always tried."""
    if FULL or len(points) <= ci:
        return list(points)
    if ci == 1:
        return [points[len(points) // 2]]
    step = (len(points) - 1) / (ci - 1)
    return [points[index] for index in sorted({round(i * step) for i in range(ci)})]


@pytest.fixture
def stack(tmp_path):
    running = Stack(tmp_path)
    yield running
    running.close()


@pytest.fixture
def local_backend(stack, settings):
    """The local backend on the stack's directory, configured in this process as in the stack's processes."""
    settings.GPUGRANT_BACKEND = "local"
    settings.GPUGRANT_LOCAL_GPUS = "A100:4,H100:4"
    settings.GPUGRANT_METERING = "edges"
    local = LocalBackend(stack.var / "local-backend", stop_grace_seconds=1.0)
    backends._instances["local"] = local  # noqa: SLF001
    inventory_sync(backend=local)
    yield local
    for job_dir in local.root.glob("*"):
        if job_dir.is_dir():
            local.stop(job_dir.name, "test over")
    backends.reset_backends()


@pytest.fixture
def no_eager_cycles(monkeypatch):
    """Submissions made by the test itself request no in-process cycle: only the stack's workers schedule."""
    monkeypatch.setattr("scheduler.triggers.request_cycle", lambda *args, **kwargs: False)
