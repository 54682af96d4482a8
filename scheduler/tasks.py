"""Celery entry points (thin): the scheduling cycle, reconciliation, the repair sweep, idle sessions."""

from celery import shared_task

from scheduler.backends import get_backend
from scheduler.cycle import run_cycle
from scheduler.cycle_lock import cycle_lock
from scheduler.reconcile import reconcile_jobs
from scheduler.session_idle import sessions_check_idle as check_idle_sessions
from scheduler.sweep import sweep as run_sweep


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def scheduling_cycle() -> dict | None:
    # Overlapping cycles are safe (claims are conditional) but wasteful; skip one if another runs.
    with cycle_lock() as mine:
        if not mine:
            return None
        result = run_cycle()
        return {"claimed": result.claimed, "bound": result.bound, "preempted": result.preempted}


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def reconcile() -> int:
    return reconcile_jobs(backend=get_backend())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep() -> dict:
    return run_sweep(backend=get_backend())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sessions_check_idle() -> dict:
    return check_idle_sessions()
