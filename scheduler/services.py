"""Writing jobs: submit (admission + hold) and cancel. Scheduling itself is in scheduler/cycle.py."""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.organisations.selectors import organisation_ids_of
from quotas.holds import hold_take
from quotas.models import Allocation, AllocationStatus
from scheduler.models import GpuNode, Job, JobEvent, SubmissionKey
from scheduler.states import TERMINAL, JobState
from scheduler.transitions import job_move, lock_job, on_commit_trigger_cycle
from scheduler.validation import job_content_errors


def largest_placement(gpu_type: str, gpus_per_pod: int) -> int:
    """The most pods of ``gpus_per_pod`` GPUs the cluster could ever run at once on ``gpu_type``."""
    sizes = GpuNode.objects.filter(gpu_type=gpu_type, schedulable=True).values_list("gpu_count", flat=True)
    return sum(size // gpus_per_pod for size in sizes)


def _admission_errors(
    user, allocation: Allocation, *, gpu_type, gpus_per_pod, pods, priority
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    if allocation.status != AllocationStatus.ACTIVE:
        errors["allocation"] = [f"The allocation is {allocation.status}."]
    elif not allocation.starts_on <= today <= allocation.ends_on:
        errors["allocation"] = [f"The allocation runs {allocation.starts_on} – {allocation.ends_on}."]
    awarded = {b.gpu_type for b in allocation.budgets.all()}
    if gpu_type not in awarded:
        errors["gpu_type"] = [
            f"This allocation has no {gpu_type} GPU-hours (awarded: {', '.join(sorted(awarded)) or 'none'})."
        ]
    if priority == "high" and not user.is_staff:
        errors["priority"] = ["Only programme staff may submit high-priority jobs."]
    total = gpus_per_pod * pods
    if total > allocation.max_concurrent_gpus:
        errors["pods"] = [
            f"{total} GPUs exceed the allocation's cap of {allocation.max_concurrent_gpus} concurrent GPUs."
        ]
    elif "gpu_type" not in errors and (most := largest_placement(gpu_type, gpus_per_pod)) < pods:
        errors["pods"] = [
            f"The cluster can never run {pods} × {gpus_per_pod} {gpu_type} GPUs at once (at most {most} such pods)."
        ]
    return errors


def fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def job_submit(
    *,
    user,
    allocation: Allocation,
    name: str,
    kind: str,
    image: str,
    command: list[str],
    gpu_type: str,
    gpus_per_pod: int,
    max_runtime_minutes: int,
    environment: dict[str, str] | None = None,
    pods: int = 1,
    priority: str = "normal",
) -> Job:
    """Admit a job: validate, check the allocation, and hold its GPU-hours under the budget's row lock."""
    if allocation.organisation_id not in organisation_ids_of(user):
        raise InvalidInput("No such allocation.", fields={"allocation": ["No such allocation among yours."]})
    environment = {} if environment is None else environment
    content = dict(
        name=name,
        kind=kind,
        image=image,
        command=command,
        environment=environment,
        gpus_per_pod=gpus_per_pod,
        pods=pods,
        max_runtime_minutes=max_runtime_minutes,
        priority=priority,
    )
    errors = job_content_errors(**content)
    if errors:
        raise InvalidInput("The job is not valid.", fields=errors)
    errors = _admission_errors(
        user, allocation, gpu_type=gpu_type, gpus_per_pod=gpus_per_pod, pods=pods, priority=priority
    )
    if errors:
        raise InvalidInput("The job cannot be admitted.", fields=errors)
    hold = gpus_per_pod * pods * max_runtime_minutes * 60
    with transaction.atomic():
        hold_take(allocation_id=allocation.pk, gpu_type=gpu_type, gpu_seconds=hold)
        job = Job.objects.create(
            organisation_id=allocation.organisation_id,
            allocation=allocation,
            created_by=user,
            gpu_type=gpu_type,
            hold_gpu_seconds=hold,
            **content,
        )
        JobEvent.objects.create(
            job=job,
            to_state=JobState.QUEUED,
            reason="accepted; waiting for GPUs",
            actor=user,
            data={"held_gpu_seconds": hold},
        )
        on_commit_trigger_cycle()
    return job


def job_submit_once(*, user, key: str, payload: dict, submit, render) -> tuple[int, dict, bool]:
    """Submit at most once per (user, Idempotency-Key): a retry gets the first response back.

    ``submit()`` creates the job; ``render(job)`` gives the response body. Returns (status, body, created).
    """
    if not 1 <= len(key) <= 255:
        raise InvalidInput("Bad Idempotency-Key.", fields={"Idempotency-Key": ["1–255 characters."]})
    digest = fingerprint(payload)

    def replay(record: SubmissionKey) -> tuple[int, dict, bool]:
        if record.fingerprint != digest:
            raise Conflict(
                "This Idempotency-Key was used for a different request.", code="idempotency_key_reused"
            )
        return record.response_status, record.response_body, False

    existing = SubmissionKey.objects.filter(user=user, key=key).first()
    if existing is not None:
        return replay(existing)
    try:
        with transaction.atomic():
            job = submit()
            body = render(job)
            SubmissionKey.objects.create(
                user=user, key=key, fingerprint=digest, job=job, response_status=201, response_body=body
            )
    except IntegrityError:
        # A concurrent request with the same key won; ours rolled back entirely (job and hold included).
        return replay(SubmissionKey.objects.get(user=user, key=key))
    return 201, body, True


def job_cancel(*, job: Job, user) -> Job:
    """Cancel: a queued job ends now; a scheduled or running one is stopped by the backend, then ends."""
    if job.organisation_id not in organisation_ids_of(user) and not user.is_staff:
        raise NotAllowed("Only members of the job's organisation can cancel it.")
    with transaction.atomic():
        job = lock_job(job.pk)
        if JobState(job.state) in TERMINAL:
            raise Conflict(f"The job already ended ({job.state}).", code="illegal_transition")
        if job.state == JobState.QUEUED:
            job_move(job, JobState.CANCELLED, f"cancelled by {user.email} before it started", actor=user)
        else:
            job.stop_requested = JobState.CANCELLED.value
            job.save(update_fields=["stop_requested"])
            JobEvent.objects.create(
                job=job,
                from_state=job.state,
                to_state=job.state,
                reason=f"cancel requested by {user.email}; stopping",
                actor=user,
            )
            from scheduler.stopping import stop_after_commit

            stop_after_commit(job)
    return job


def job_request_stop(*, job_pk: int, stop: str, reason: str) -> bool:
    """Ask for an active job to be stopped (exhausted, idle, inactive, …), once; True if asked now."""
    with transaction.atomic():
        job = lock_job(job_pk)
        if job.stop_requested or JobState(job.state) not in (JobState.SCHEDULED, JobState.RUNNING):
            return False
        job.stop_requested = stop
        job.save(update_fields=["stop_requested"])
        JobEvent.objects.create(job=job, from_state=job.state, to_state=job.state, reason=reason[:500])
        from scheduler.stopping import stop_after_commit

        stop_after_commit(job)
    return True
