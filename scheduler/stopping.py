"""Asking the backend to stop jobs, after the stop request is committed, then reconciling them."""

import logging

from django.db import transaction

from scheduler.backends import get_backend

logger = logging.getLogger(__name__)


def stop_after_commit(job) -> None:
    job_id, reason, backend_name = str(job.public_id), job.stop_requested, job.backend or None

    def stop() -> None:
        try:
            get_backend(backend_name).stop(job_id, reason)
        except Exception:  # noqa: BLE001 - the reconcile sweep retries stops that did not happen
            logger.exception("stopping job %s failed; the sweep will retry", job_id)
            return
        from scheduler.reconcile import reconcile_jobs

        reconcile_jobs(backend=get_backend(backend_name), public_ids=[job_id])

    transaction.on_commit(stop)
