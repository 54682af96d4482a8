"""Celery entry points (thin): the scheduling cycle, reconciliation and the repair sweep."""

from celery import shared_task
from django.core.cache import cache

from scheduler.backends import get_backend

CYCLE_LOCK = "scheduler:cycle-running"


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def scheduling_cycle() -> dict | None:
    # Overlapping cycles are safe (claims are conditional) but wasteful; skip one if another runs.
    if not cache.add(CYCLE_LOCK, 1, timeout=60):
        return None
    try:
        from scheduler.cycle import run_cycle

        result = run_cycle()
        return {"claimed": result.claimed, "bound": result.bound, "preempted": result.preempted}
    finally:
        cache.delete(CYCLE_LOCK)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def reconcile() -> int:
    from scheduler.reconcile import reconcile_jobs

    return reconcile_jobs(backend=get_backend())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep() -> dict:
    from scheduler.reconcile import sweep as run_sweep

    return run_sweep(backend=get_backend())
