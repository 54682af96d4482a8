"""Turning what the backend reports into job states, and the sweep that repairs what crashes leave."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from quotas.models import AllocationStatus
from scheduler import reasons
from scheduler.backends.base import Backend, JobStatus, Phase
from scheduler.cycle import bind_failed
from scheduler.models import Gpu, GpuNode, Job
from scheduler.reasons import Reason
from scheduler.states import ACTIVE, JobState
from scheduler.transitions import job_move, lock_job, on_commit_trigger_cycle
from workers.logs import job_context

logger = logging.getLogger(__name__)

STOPPED_AS = {
    JobState.CANCELLED.value: (JobState.CANCELLED, reasons.cancelled()),
    JobState.PREEMPTED.value: (JobState.PREEMPTED, reasons.preempted()),
    JobState.EXHAUSTED.value: (JobState.EXHAUSTED, reasons.exhausted()),
    JobState.TIMED_OUT.value: (JobState.TIMED_OUT, reasons.ran_past_max_runtime()),
    "idle": (JobState.CANCELLED, reasons.idle_stopped()),
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
                _stop_lost_run(backend, status.job_id)
            job.exit_code = status.exit_code if status.exit_code is not None else job.exit_code
            job_move(
                job, target[0], target[1], data={"phase": status.phase.value, "backend_reason": status.reason}
            )
            changed += 1
            if target[0] != JobState.RUNNING:
                on_commit_trigger_cycle()
    changed += _finish_vanished(backend, set(by_public) - {s.job_id for s in statuses}, by_public)
    return changed


def _stop_lost_run(backend: Backend, public_id: str) -> None:
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
                _stop_lost_run(backend, str(job.public_id))
                job_move(job, JobState.LOST, reasons.lost_node_gone())
                counts["lost_on_vanished_nodes"] += 1
    # 6. running jobs of suspended or expired allocations, where the policy says stop.
    if settings.GPUGRANT_INACTIVE_ALLOCATION_POLICY == "stop":
        from scheduler.services import job_request_stop

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
