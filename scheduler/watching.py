"""Reacting to backend events at once, rather than waiting for the next periodic reconcile.

Backends that can stream changes (Kubernetes: pod and node watches with resync) offer
``watch(on_change, stop)``; each batch of changed job ids is reconciled and a cycle requested.
The periodic reconcile stays as the safety net for anything a watch misses.
"""

import logging
import threading

from scheduler.backends.base import Backend
from scheduler.reconcile import reconcile_jobs
from scheduler.triggers import request_cycle

logger = logging.getLogger(__name__)


def can_watch(backend: Backend) -> bool:
    return callable(getattr(backend, "watch", None))


def watch_and_reconcile(backend: Backend, stop: threading.Event) -> None:
    if not can_watch(backend):
        raise ValueError(f"the {backend.name} backend cannot stream changes")

    def on_change(job_ids: set[str]) -> None:
        changed = reconcile_jobs(backend=backend, public_ids=sorted(job_ids))
        if changed:
            request_cycle()
        logger.info("watch: %s jobs reported, %s changed state", len(job_ids), changed)

    backend.watch(on_change, stop)
