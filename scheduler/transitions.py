"""Moving a locked job between states: the event, the timestamps, GPU release and budget settlement.

Every job state change in gpugrant goes through ``job_move`` inside a transaction that holds the
job's row lock, so each run's GPU time is charged exactly once (the run-ending move happens once).
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import Conflict
from portal.state_names import state_name
from quotas.holds import hold_release, hold_top_up
from quotas.models import UsageSource
from scheduler import reasons
from scheduler.charging import edges_record, usage_charge
from scheduler.models import Gpu, Job, JobEvent
from scheduler.reasons import Reason
from scheduler.states import TERMINAL, JobState, can_move
from scheduler.triggers import request_cycle

RUN_ENDING = frozenset({*TERMINAL, JobState.PREEMPTED, JobState.LOST, JobState.QUEUED})


def lock_job(job_id: int) -> Job:
    return Job.objects.select_for_update().get(pk=job_id)


def _end_run(job: Job, now) -> int:
    """Release the job's GPUs. Without node agents, charge the run from its bind/release edges.

    With node agents (GPUGRANT_METERING = "agent") the GPU time arrives as usage records instead,
    interval by interval, so it is not charged here (that would count it twice).
    """
    charged = 0
    if job.run_started_at is not None and settings.GPUGRANT_METERING == "edges":
        node = job.placement[0]["node"] if job.placement else ""
        record, row = edges_record(job, node, job.run_started_at, now)
        usage_charge(node=node, items=[(record, row)], source=UsageSource.EDGES, now=now)
        job.refresh_from_db(fields=["used_gpu_seconds", "hold_gpu_seconds", "energy_mj"])
        charged = record["gpu_seconds"]
    job.run_started_at = None
    Gpu.objects.filter(job=job).update(job=None, claimed_at=None)
    return charged


def job_move(
    job: Job, target: JobState, reason: Reason, *, actor=None, now=None, data: dict | None = None
) -> Job:
    """Move a job locked with ``lock_job``; raises Conflict on a move the state table forbids."""
    now = now or timezone.now()
    source = JobState(job.state)
    if not can_move(source, target):
        raise Conflict(
            _("A job that is %(source)s cannot become %(target)s.")
            % {"source": state_name(source), "target": state_name(target)},
            code="illegal_transition",
        )
    data = dict(data or {})
    if source in (JobState.SCHEDULED, JobState.RUNNING) and target in RUN_ENDING:
        data["gpu_seconds_charged"] = _end_run(job, now)
    if target == JobState.SCHEDULED:
        job.scheduled_at = now
        job.run_started_at = now
    elif target == JobState.RUNNING:
        job.started_at = job.started_at or now
    elif target == JobState.QUEUED:
        job.queued_at = now
        job.idle_since = job.idle_warned_at = None  # a new run starts with a clean slate
        job.stop_requested = ""
        job.hold_gpu_seconds = hold_top_up(
            allocation_id=job.allocation_id,
            gpu_type=job.gpu_type,
            current=job.hold_gpu_seconds,
            wanted=job.gpus * job.max_runtime_seconds,
        )
    if target in TERMINAL:
        job.finished_at = now
        job.stop_requested = ""
        if job.hold_gpu_seconds:
            hold_release(
                allocation_id=job.allocation_id, gpu_type=job.gpu_type, gpu_seconds=job.hold_gpu_seconds
            )
            job.hold_gpu_seconds = 0
    job.state = target.value
    job.set_state_reason(reason)
    job.save()
    JobEvent.objects.record(
        job=job,
        from_state=source.value,
        to_state=target.value,
        reason=reason,
        actor=actor,
        data=data,
        created_at=now,
    )
    if target in (JobState.PREEMPTED, JobState.LOST):
        _requeue_or_fail(job, now)
    return job


def _requeue_or_fail(job: Job, now) -> None:
    if job.state == JobState.PREEMPTED.value:
        job.requeues += 1
        job_move(job, JobState.QUEUED, reasons.requeued_after_preemption(), now=now)
    elif job.requeues < settings.GPUGRANT_MAX_REQUEUES:
        job.requeues += 1
        job_move(job, JobState.QUEUED, reasons.requeued_after_lost(job.requeues + 1), now=now)
    else:
        job_move(job, JobState.FAILED, reasons.lost_too_often(job.requeues + 1), now=now)


def on_commit_trigger_cycle() -> None:
    transaction.on_commit(request_cycle)


def bind_failed(job_pk: int, message: str, *, counts: bool = True) -> None:
    """Undo a claim whose bind failed: free the GPUs, charge nothing, requeue (or fail after too many).

    ``counts``: False when the failure was not the job's (leftovers of its earlier run, now removed).
    """
    with transaction.atomic():
        job = lock_job(job_pk)
        if job.state != JobState.SCHEDULED:
            return
        job.run_started_at = None  # the GPUs never ran it
        job.requeues += 1 if counts else 0
        if job.requeues > settings.GPUGRANT_MAX_REQUEUES:
            job_move(job, JobState.FAILED, reasons.start_failed_gave_up(job.requeues, message))
        else:
            job_move(job, JobState.QUEUED, reasons.start_failed_requeued(message))
