"""Turning what the backend reports into job states (the repair sweep is scheduler/sweep.py)."""

import logging

from django.db import transaction

from scheduler import reasons
from scheduler.backends.base import Backend, JobStatus, Phase
from scheduler.models import Job, JobKind
from scheduler.reasons import Reason
from scheduler.states import ACTIVE, JobState
from scheduler.transitions import job_move, lock_job, on_commit_trigger_cycle
from workers.logs import job_context

logger = logging.getLogger(__name__)

# A session whose pod finished without gpugrant asking (JupyterLab exited, or it ran out of time).
SESSION_ENDED_BY_ITSELF = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.TIMED_OUT})
STOPPED_AS = {
    JobState.CANCELLED.value: (JobState.CANCELLED, reasons.cancelled()),
    JobState.PREEMPTED.value: (JobState.PREEMPTED, reasons.preempted()),
    JobState.EXHAUSTED.value: (JobState.EXHAUSTED, reasons.exhausted()),
    JobState.TIMED_OUT.value: (JobState.TIMED_OUT, reasons.ran_past_max_runtime()),
    "idle": (JobState.CANCELLED, reasons.idle_stopped()),
    "session_idle": (JobState.CANCELLED, reasons.session_idle_stopped()),
    "inactive": (JobState.CANCELLED, reasons.inactive_stopped()),
}


def _target(job: Job, status: JobStatus) -> tuple[JobState, Reason] | None:
    if status.phase == Phase.RUNNING:
        return (JobState.RUNNING, reasons.running()) if job.state == JobState.SCHEDULED else None
    if status.phase == Phase.SUCCEEDED:
        return JobState.SUCCEEDED, reasons.succeeded(0)
    if status.phase == Phase.FAILED:
        return JobState.FAILED, reasons.failed(status.exit_code, status.reason)
    if status.phase == Phase.TIMED_OUT:
        return JobState.TIMED_OUT, reasons.timed_out(job.max_runtime_minutes)
    if status.phase == Phase.STOPPED:
        # Nobody here asked for it (a node drain, a pod deleted behind gpugrant's back): requeue by policy.
        return STOPPED_AS.get(job.stop_requested, (JobState.LOST, reasons.lost_stopped_outside()))
    if status.phase == Phase.LOST:
        return JobState.LOST, reasons.lost(status.reason)
    return None


def reconcile_jobs(*, backend: Backend, public_ids: list[str] | None = None) -> int:
    """Apply the backend's phases to scheduled and running jobs; returns how many changed state."""
    jobs = Job.objects.filter(state__in=list(ACTIVE), backend=backend.name)
    if public_ids is not None:
        jobs = jobs.filter(public_id__in=public_ids)
    by_public = {str(public_id): pk for pk, public_id in jobs.values_list("pk", "public_id")}
    if not by_public:
        return 0
    changed = 0
    statuses = backend.statuses(list(by_public))
    for status in statuses:
        pk = by_public.get(status.job_id)
        if pk is None:
            continue
        with job_context(status.job_id), transaction.atomic():
            job = lock_job(pk)
            if JobState(job.state) not in ACTIVE:
                continue
            target = _target(job, status)
            if target is None:
                continue
            if target[0] == JobState.LOST:
                stop_lost_run(backend, status.job_id)
            job.exit_code = status.exit_code if status.exit_code is not None else job.exit_code
            job_move(
                job, target[0], target[1], data={"phase": status.phase.value, "backend_reason": status.reason}
            )
            changed += 1
            if target[0] != JobState.RUNNING:
                on_commit_trigger_cycle()
            if job.kind == JobKind.INTERACTIVE and target[0] in SESSION_ENDED_BY_ITSELF:
                # A finished pod stays until stopped, and with it what a session holds beside its pods
                # (on Kubernetes its token's Secret and its Service): remove them once the end is stored.
                transaction.on_commit(lambda job_id=status.job_id: _stop_ended_session(backend, job_id))
    changed += _finish_vanished(backend, set(by_public) - {s.job_id for s in statuses}, by_public)
    return changed


def _stop_ended_session(backend: Backend, public_id: str) -> None:
    try:
        backend.stop(public_id, "session ended")
    except Exception:  # noqa: BLE001 - the state is stored; what is left waits for the outage cleaning
        logger.exception("removing what ended session %s held failed", public_id)


def stop_lost_run(backend: Backend, public_id: str) -> None:
    """Stop what is left of a lost run (a gang's other ranks, a pod on a node that is gone) before the job is
    requeued, while its row is locked: the requeue releases the run's GPUs, and the next bind would otherwise
    take a surviving pod for one of its own. A stop that fails is logged; the next bind refuses leftovers
    being deleted or pinned elsewhere."""
    try:
        backend.stop(public_id, "lost")
    except Exception:  # noqa: BLE001 - requeue anyway; a lost job must not stay active
        logger.exception("stopping the rest of lost job %s failed", public_id)


def _finish_vanished(backend: Backend, unknown: set[str], by_public: dict[str, int]) -> int:
    """Jobs the backend no longer knows: a requested stop is done; a running job's pods are lost.

    A *scheduled* job it does not know may still be binding in another worker; the sweep handles those
    after GPUGRANT_SCHEDULED_TIMEOUT_S.
    """
    changed = 0
    for public_id in sorted(unknown):
        with job_context(public_id), transaction.atomic():
            job = lock_job(by_public[public_id])
            if job.stop_requested and JobState(job.state) in ACTIVE:
                target, reason = STOPPED_AS[job.stop_requested]
            elif job.state == JobState.RUNNING:
                target, reason = JobState.LOST, reasons.lost_pods_vanished()
            else:
                continue
            job_move(job, target, reason)
            changed += 1
            on_commit_trigger_cycle()
    return changed
