"""Stopping jobs: every stop gpugrant asks for (cancel, used-up budget, idle GPUs, inactive allocation,
timeout) is recorded on the job under its row lock, carried out by the backend after commit, then
reconciled. A new reason to stop a job is a call to ``job_request_stop`` with its own ``stop`` value
(and an entry in scheduler/reconcile.py's STOPPED_AS for the state it ends in)."""

import logging

from django.db import transaction

from scheduler.backends import get_backend
from scheduler.models import JobEvent
from scheduler.reasons import Reason
from scheduler.reconcile import reconcile_jobs
from scheduler.states import JobState
from scheduler.transitions import lock_job

logger = logging.getLogger(__name__)


def stop_after_commit(job) -> None:
    job_id, reason, backend_name = str(job.public_id), job.stop_requested, job.backend or None

    def stop() -> None:
        try:
            get_backend(backend_name).stop(job_id, reason)
        except Exception:  # noqa: BLE001 - the reconcile sweep retries stops that did not happen
            logger.exception("stopping job %s failed; the sweep will retry", job_id)
            return
        reconcile_jobs(backend=get_backend(backend_name), public_ids=[job_id])

    transaction.on_commit(stop)


def job_request_stop(*, job_pk: int, stop: str, reason: Reason) -> bool:
    """Ask for an active job to be stopped (exhausted, idle, inactive, …), once; True if asked now."""
    with transaction.atomic():
        job = lock_job(job_pk)
        if job.stop_requested or JobState(job.state) not in (JobState.SCHEDULED, JobState.RUNNING):
            return False
        job.stop_requested = stop
        job.save(update_fields=["stop_requested"])
        JobEvent.objects.record(job=job, from_state=job.state, to_state=job.state, reason=reason)
        stop_after_commit(job)
    return True
