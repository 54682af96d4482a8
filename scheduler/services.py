"""Writing jobs: submit (admission + hold) and cancel. Scheduling itself is in scheduler/cycle.py."""

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import nullcontext

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.environments.selectors import environment_to_run
from portal.errors import Conflict, InvalidInput, NotAllowed, ServiceError
from portal.organisations.selectors import organisation_ids_of
from portal.state_names import state_name
from quotas.holds import hold_refusal, hold_try
from quotas.models import Allocation, AllocationStatus
from scheduler import reasons
from scheduler.admission import admit_in_one_statement
from scheduler.job_fields import DEFAULT_PODS, DEFAULT_PRIORITY
from scheduler.models import GpuNode, Job, JobEvent, JobKind, SubmissionKey
from scheduler.pins import job_pin_errors
from scheduler.states import TERMINAL, JobState
from scheduler.stopping import stop_after_commit
from scheduler.transitions import job_move, lock_job, on_commit_trigger_cycle
from scheduler.validation import job_content_errors

# How long a process trusts the GPU node sizes it read (admission's "could this ever fit" check). Nodes
# come and go rarely; within this window a job may be admitted that waits as "never fits", or refused
# (400, retryable) just after a node joined.
NODE_SIZES_TTL_S = 5.0
_node_sizes: dict[str, tuple[float, tuple[int, ...]]] = {}  # GPU type → (read at, schedulable node sizes)


def node_sizes(gpu_type: str) -> tuple[int, ...]:
    """GPU counts of the schedulable ``gpu_type`` nodes, as read at most NODE_SIZES_TTL_S ago."""
    now = time.monotonic()
    cached = _node_sizes.get(gpu_type)
    if cached is not None and now - cached[0] < NODE_SIZES_TTL_S:
        return cached[1]
    sizes = tuple(
        GpuNode.objects.filter(gpu_type=gpu_type, schedulable=True).values_list("gpu_count", flat=True)
    )
    _node_sizes[gpu_type] = (now, sizes)
    return sizes


def node_sizes_forget() -> None:
    """Make the next admission read node sizes afresh (tests, after changing nodes by hand)."""
    _node_sizes.clear()


def largest_placement(gpu_type: str, gpus_per_pod: int) -> int:
    """The most pods of ``gpus_per_pod`` GPUs the cluster could ever run at once on ``gpu_type``."""
    return sum(size // gpus_per_pod for size in node_sizes(gpu_type))


def _admission_errors(
    user, allocation: Allocation, *, gpu_type, gpus_per_pod, pods, priority, awarded: set[str]
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    if allocation.status != AllocationStatus.ACTIVE:
        errors["allocation"] = [
            _("The allocation is %(status)s.") % {"status": state_name(allocation.status)}
        ]
    elif not allocation.starts_on <= today <= allocation.ends_on:
        errors["allocation"] = [
            _("The allocation runs %(start)s – %(end)s.")
            % {"start": allocation.starts_on, "end": allocation.ends_on}
        ]
    if gpu_type not in awarded:
        errors["gpu_type"] = [
            _("This allocation has no %(gpu_type)s GPU-hours (awarded: %(awarded)s).")
            % {"gpu_type": gpu_type, "awarded": ", ".join(sorted(awarded)) or _("none")}
        ]
    if priority == "high" and not user.is_staff:
        errors["priority"] = [_("Only programme staff may submit high-priority jobs.")]
    total = gpus_per_pod * pods
    if total > allocation.max_concurrent_gpus:
        errors["pods"] = [
            _("%(total)s GPUs exceed the allocation's cap of %(cap)s concurrent GPUs.")
            % {"total": total, "cap": allocation.max_concurrent_gpus}
        ]
    elif "gpu_type" not in errors and (most := largest_placement(gpu_type, gpus_per_pod)) < pods:
        errors["pods"] = [
            _(
                "The cluster can never run %(pods)s × %(gpus)s %(gpu_type)s GPUs at once (at most %(most)s such pods)."
            )
            % {"pods": pods, "gpus": gpus_per_pod, "gpu_type": gpu_type, "most": most}
        ]
    return errors


def _image_to_run(
    allocation: Allocation, *, kind: str, image: str, environment_name: str
) -> tuple[str, dict[str, list[str]]]:
    """The image a job runs, from its catalogue environment or its own image, and why it cannot."""
    if environment_name and image:
        return image, {"image": [_("Give an environment or an image, not both.")]}
    if environment_name:
        chosen = environment_to_run(environment_name)
        if chosen is None:
            return "", {
                "environment_name": [
                    _("No active environment is called %(name)s; see GET /api/v1/environments.")
                    % {"name": environment_name}
                ]
            }
        if kind not in chosen.kinds:
            return chosen.image, {
                "environment_name": [
                    _("%(name)s is not offered for %(kind)s jobs.")
                    % {"name": chosen.name, "kind": dict(JobKind.choices).get(kind, kind)}
                ]
            }
        return chosen.image, {}
    if not image:
        return "", {"environment_name": [_("Choose an environment from the catalogue.")]}
    if not allocation.allow_custom_images:
        return image, {
            "image": [
                _(
                    "This allocation runs catalogue environments only; choose one by name "
                    "(programme staff can allow custom images)."
                )
            ]
        }
    return image, {}


def _awarded_gpu_types(allocation: Allocation) -> set[str]:
    return {budget.gpu_type for budget in allocation.budgets.all()}


def fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def job_submit(
    *,
    user,
    allocation: Allocation,
    name: str,
    kind: str,
    command: list[str],
    gpu_type: str,
    gpus_per_pod: int,
    max_runtime_minutes: int,
    image: str = "",
    environment_name: str = "",
    environment: dict[str, str] | None = None,
    pods: int = DEFAULT_PODS,
    priority: str = DEFAULT_PRIORITY,
    provider: str = "",
    region: str = "",
    record: Callable[[Job], SubmissionKey] | None = None,
) -> Job:
    """Admit a job: validate, check the allocation, and hold its GPU-hours under the budget's row lock.

    ``record(job)``, if given, is called with the job before it is written and returns the (unsaved)
    Idempotency-Key to write with it, atomically; a key already used raises IntegrityError, writing nothing.
    The job runs the catalogue environment ``environment_name``, or ``image`` where the allocation
    allows custom images. ``provider`` and ``region`` narrow where it may run (scheduler/pins.py).
    """
    if allocation.organisation_id not in organisation_ids_of(user):
        raise InvalidInput(
            _("No such allocation."), fields={"allocation": [_("No such allocation among yours.")]}
        )
    environment = {} if environment is None else environment
    image, image_errors = _image_to_run(allocation, kind=kind, image=image, environment_name=environment_name)
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
    if image_errors:
        errors.pop("image", None)
        errors.update(image_errors)
    provider_id, pin_errors = job_pin_errors(allocation, provider=provider, region=region, gpu_type=gpu_type)
    errors.update(pin_errors)
    if errors:
        raise InvalidInput(_("The job is not valid."), fields=errors)
    admission = dict(gpu_type=gpu_type, gpus_per_pod=gpus_per_pod, pods=pods, priority=priority)
    # Whether the GPU type was awarded at all is left to the hold (no budget row to update), so that an
    # admissible job reads no budgets; a refusal reads them to say which types were awarded.
    if _admission_errors(user, allocation, awarded={gpu_type}, **admission):
        errors = _admission_errors(user, allocation, awarded=_awarded_gpu_types(allocation), **admission)
        raise InvalidInput(_("The job cannot be admitted."), fields=errors)
    hold = gpus_per_pod * pods * max_runtime_minutes * 60
    job = Job(
        environment_name=environment_name,
        organisation_id=allocation.organisation_id,
        allocation=allocation,
        created_by=user,
        gpu_type=gpu_type,
        hold_gpu_seconds=hold,
        provider_id=provider_id,
        region=region,
        **content,
    )
    event = JobEvent.of(
        reasons.accepted(),
        job=job,
        to_state=JobState.QUEUED,
        actor=user,
        data={"held_gpu_seconds": hold},
    )
    key = record(job) if record is not None else None
    if connection.vendor == "postgresql":
        admitted = admit_in_one_statement(job=job, event=event, key=key)
    else:
        admitted = _admit_in_a_transaction(job=job, event=event, key=key)
    if not admitted:
        refused = hold_refusal(allocation_id=allocation.pk, gpu_type=gpu_type, gpu_seconds=hold)
        if refused.code != "gpu_type_not_awarded":
            raise refused
        errors = _admission_errors(user, allocation, awarded=_awarded_gpu_types(allocation), **admission)
        raise InvalidInput(_("The job cannot be admitted."), fields=errors)
    on_commit_trigger_cycle()
    return job


def _admit_in_a_transaction(*, job: Job, event: JobEvent, key: SubmissionKey | None) -> bool:
    """admit_in_one_statement for databases without data-modifying WITH clauses (SQLite, the demo)."""
    with transaction.atomic():
        if not hold_try(
            allocation_id=job.allocation_id, gpu_type=job.gpu_type, gpu_seconds=job.hold_gpu_seconds
        ):
            return False
        job.save(force_insert=True)
        event.job = job
        event.save(force_insert=True)
        if key is not None:
            key.job = job
            key.save(force_insert=True)
    return True


def job_submit_once(*, user, key: str, payload: dict, submit, render) -> tuple[int, dict, bool]:
    """Submit at most once per (user, Idempotency-Key): a retry gets the first response back.

    ``submit(record)`` creates the job, passing ``record`` on to job_submit; ``render(job)`` gives the
    response body. Returns (status, body, created). The key is not looked up first: a new key (the
    common case) costs no read; a key already used fails its unique insert, nothing is written (job and
    hold included) and the stored response is replayed.
    """
    if not 1 <= len(key) <= 255:
        raise InvalidInput(_("Bad Idempotency-Key."), fields={"Idempotency-Key": [_("1–255 characters.")]})
    digest = fingerprint(payload)
    rendered: dict = {}

    def record(job: Job) -> SubmissionKey:
        rendered.update(body=render(job))
        return SubmissionKey(
            user=user,
            key=key,
            fingerprint=digest,
            job=job,
            response_status=201,
            response_body=rendered["body"],
        )

    def replay(existing: SubmissionKey) -> tuple[int, dict, bool]:
        if existing.fingerprint != digest:
            raise Conflict(
                _("This Idempotency-Key was used for a different request."), code="idempotency_key_reused"
            )
        return existing.response_status, existing.response_body, False

    # In a caller's transaction a used key must not abort it: a savepoint. Otherwise the write is one
    # statement (or its own transaction), atomic by itself.
    undo_point = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with undo_point:
            submit(record)
    except (IntegrityError, ServiceError):
        # A key used before, or by a concurrent request that committed first, gets that request's answer;
        # so does a retry whose job could no longer be admitted now (budget spent or allocation suspended
        # since), and a reused key its 409 whatever the new body is.
        existing = SubmissionKey.objects.filter(user=user, key=key).first()
        if existing is None:
            raise
        return replay(existing)
    return 201, rendered["body"], True


def job_cancel(*, job: Job, user) -> Job:
    """Cancel: a queued job ends now; a scheduled or running one is stopped by the backend, then ends."""
    if job.organisation_id not in organisation_ids_of(user) and not user.is_staff:
        raise NotAllowed(_("Only members of the job's organisation can cancel it."))
    with transaction.atomic():
        job = lock_job(job.pk)
        if JobState(job.state) in TERMINAL:
            raise Conflict(
                _("The job already ended (%(state)s).") % {"state": state_name(job.state)},
                code="illegal_transition",
            )
        if job.state == JobState.QUEUED:
            job_move(job, JobState.CANCELLED, reasons.cancelled_before_start(user.email), actor=user)
        else:
            job.stop_requested = JobState.CANCELLED.value
            job.save(update_fields=["stop_requested"])
            JobEvent.objects.record(
                job=job,
                from_state=job.state,
                to_state=job.state,
                reason=reasons.cancel_requested(user.email),
                actor=user,
            )
            stop_after_commit(job)
    return job
