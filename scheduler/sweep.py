"""The sweep: repairs what crashes and outages leave behind (stuck binds, stops that did not happen,
overdue runs, ended allocations, vanished nodes, orphaned GPUs). Idempotent; run by beat every 30 s."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from quotas.models import AllocationStatus
from scheduler import reasons
from scheduler.backends.base import Backend
from scheduler.models import Gpu, GpuNode, Job
from scheduler.reconcile import stop_lost_run
from scheduler.states import ACTIVE, JobState
from scheduler.stopping import job_request_stop
from scheduler.transitions import bind_failed, job_move, lock_job

logger = logging.getLogger(__name__)


def sweep(*, backend: Backend, now=None) -> dict[str, int]:
    """Repair what crashes and outages leave behind. Idempotent; safe to run from any worker."""
    now = now or timezone.now()
    counts = {
        "stops_retried": 0,
        "stuck_requeued": 0,
        "overdue_stopped": 0,
        "expired_failed": 0,
        "orphan_gpus": 0,
        "lost_on_vanished_nodes": 0,
    }
    known = {
        s.job_id
        for s in backend.statuses(
            [
                str(p)
                for p in Job.objects.filter(state__in=list(ACTIVE), backend=backend.name).values_list(
                    "public_id", flat=True
                )
            ]
        )
    }
    # 1. a cycle that died between claim and bind leaves a scheduled job the backend never heard of.
    stuck_before = now - timedelta(seconds=settings.GPUGRANT_SCHEDULED_TIMEOUT_S)
    for pk, public_id in Job.objects.filter(
        state=JobState.SCHEDULED, backend=backend.name, scheduled_at__lt=stuck_before
    ).values_list("pk", "public_id"):
        if str(public_id) not in known:
            bind_failed(pk, "its bind never completed")
            counts["stuck_requeued"] += 1
    # 2. stops that were requested but did not happen (backend down at the time).
    for job in Job.objects.filter(state__in=list(ACTIVE), backend=backend.name).exclude(stop_requested=""):
        backend.stop(str(job.public_id), job.stop_requested)
        counts["stops_retried"] += 1
    # 3. jobs past max_runtime (plus a grace minute) that the backend did not stop by itself.
    for job in Job.objects.filter(state=JobState.RUNNING, backend=backend.name, stop_requested=""):
        if job.run_started_at and now > job.run_started_at + timedelta(seconds=job.max_runtime_seconds + 60):
            Job.objects.filter(pk=job.pk, stop_requested="").update(stop_requested=JobState.TIMED_OUT)
            backend.stop(str(job.public_id), JobState.TIMED_OUT)
            counts["overdue_stopped"] += 1
    # 4. queued jobs whose allocation has ended can never run.
    today = timezone.localdate()
    ended = Q(allocation__ends_on__lt=today) | Q(allocation__status=AllocationStatus.EXPIRED)
    for pk in Job.objects.filter(ended, state=JobState.QUEUED).values_list("pk", flat=True):
        with transaction.atomic():
            job = lock_job(pk)
            if job.state == JobState.QUEUED:
                job_move(job, JobState.FAILED, reasons.allocation_ended())
                counts["expired_failed"] += 1
    # 5. jobs on nodes that vanished from the inventory are lost.
    gone = GpuNode.objects.filter(
        backend=backend.name, schedulable=False, unschedulable_reason="node no longer reported"
    )
    for pk in (
        Job.objects.filter(state__in=list(ACTIVE), claimed_gpus__node__in=gone)
        .values_list("pk", flat=True)
        .distinct()
    ):
        with transaction.atomic():
            job = lock_job(pk)
            if JobState(job.state) in ACTIVE:
                stop_lost_run(backend, str(job.public_id))
                job_move(job, JobState.LOST, reasons.lost_node_gone())
                counts["lost_on_vanished_nodes"] += 1
    # 6. running jobs of suspended or expired allocations, where the policy says stop.
    if settings.GPUGRANT_INACTIVE_ALLOCATION_POLICY == "stop":
        inactive = Q(allocation__status__in=[AllocationStatus.SUSPENDED, AllocationStatus.EXPIRED]) | Q(
            allocation__ends_on__lt=today
        )
        for pk in Job.objects.filter(inactive, state__in=list(ACTIVE), stop_requested="").values_list(
            "pk", flat=True
        ):
            if job_request_stop(job_pk=pk, stop="inactive", reason=reasons.inactive_stopping()):
                counts["inactive_stopped"] = counts.get("inactive_stopped", 0) + 1
    # 7. GPUs claimed by jobs that are no longer active (should never happen; repaired if it does).
    orphans = Gpu.objects.filter(job__isnull=False).exclude(job__state__in=list(ACTIVE))
    counts["orphan_gpus"] = orphans.update(job=None, claimed_at=None)
    if counts["orphan_gpus"]:
        logger.error("released %s GPUs held by inactive jobs", counts["orphan_gpus"])
    return counts
