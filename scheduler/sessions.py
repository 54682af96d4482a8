"""Interactive sessions (docs/sessions.md): a JupyterLab server run as a job of kind ``interactive``,
through the same admission, holds, scheduler, metering and ledger as any job.

A session asks for a catalogue environment offered for sessions (one with JupyterLab), GPUs of one type
and a time limit within its allocation's rules; the allocation caps the GPUs its sessions hold at once.
Its JupyterLab token is made here, kept encrypted, and handed to the server by the backend at launch,
never in the job's command, environment or any URL; the proxy (portal/sessions_proxy) adds it to what
it forwards.
"""

import secrets

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from portal.errors import InvalidInput, NotAllowed
from portal.organisations.models import Membership, MembershipRole
from portal.providers.credentials import encrypt
from quotas.models import Allocation
from scheduler.backends.base import SESSION_SOCKET
from scheduler.models import InteractiveSession, Job, JobKind
from scheduler.services import job_cancel, job_submit
from scheduler.states import TERMINAL

MAX_SESSION_MINUTES = 24 * 60


JOB_TO_SESSION_FIELD = {"gpus_per_pod": "gpus", "pods": "gpus", "max_runtime_minutes": "time_limit_minutes"}


def session_command(public_id) -> list[str]:
    """JupyterLab under the portal's address for this session, on a UNIX socket, no browser; the token
    comes from the environment the backend sets (JUPYTER_TOKEN), never from the command line."""
    return [
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.base_url=/sessions/{public_id}/",
        f"--ServerApp.sock={SESSION_SOCKET}",
        "--ServerApp.root_dir=.",
    ]


def session_gpus_in_use(allocation: Allocation) -> int:
    """GPUs the allocation's sessions hold or ask for now (every session not yet ended)."""
    return (
        Job.objects.filter(allocation=allocation, kind=JobKind.INTERACTIVE)
        .exclude(state__in=[s.value for s in TERMINAL])
        .aggregate(gpus=Sum("gpus_per_pod"))["gpus"]
        or 0
    )


def session_launch(
    *, user, allocation: Allocation, environment_name: str, gpu_type: str, gpus: int, time_limit_minutes: int
) -> Job:
    """Launch a session: field errors for anything outside the allocation's session rules."""
    errors: dict[str, list[str]] = {}
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
        errors["gpus"] = [_("At least one GPU.")]
    if (
        not isinstance(time_limit_minutes, int)
        or isinstance(time_limit_minutes, bool)
        or not 1 <= time_limit_minutes <= MAX_SESSION_MINUTES
    ):
        errors["time_limit_minutes"] = [_("From 1 to %(most)s minutes.") % {"most": MAX_SESSION_MINUTES}]
    if errors:
        raise InvalidInput(_("The session could not be launched."), fields=errors)
    with transaction.atomic():
        # the allocation's row lock orders launches: two at once cannot both slip under the cap
        locked = Allocation.objects.select_for_update().get(pk=allocation.pk)
        in_use = session_gpus_in_use(locked)
        if in_use + gpus > locked.session_gpu_cap:
            raise InvalidInput(
                _("The session could not be launched."),
                fields={
                    "gpus": [
                        _(
                            "Sessions of this allocation may hold %(cap)s GPUs at once; %(used)s are in sessions."
                        )
                        % {"cap": locked.session_gpu_cap, "used": in_use}
                    ]
                },
            )
        try:
            job = job_submit(
                user=user,
                allocation=locked,
                name="session",
                kind=JobKind.INTERACTIVE,
                command=["jupyter"],  # replaced below, once the job's id names its address
                gpu_type=gpu_type,
                gpus_per_pod=gpus,
                max_runtime_minutes=time_limit_minutes,
                environment_name=environment_name,
            )
        except InvalidInput as error:  # the job's field names, said as the session's
            fields: dict[str, list[str]] = {}
            for name, messages in error.fields.items():
                fields.setdefault(JOB_TO_SESSION_FIELD.get(name, name), []).extend(messages)
            raise InvalidInput(_("The session could not be launched."), fields=fields) from error
        job.command = session_command(job.public_id)
        job.save(update_fields=["command"])
        InteractiveSession.objects.create(
            job=job,
            token_ciphertext=encrypt(secrets.token_urlsafe(32)),
            idle_limit_minutes=locked.session_idle_minutes,
            managers_may_enter=locked.session_managers_may_enter,
        )
    return job


def session_stop(*, job: Job, user) -> Job:
    """Stop a session (its GPUs are freed; the notebooks stay in the workspace): its owner, the
    organisation's owners and managers, or staff; not other members."""
    manager = Membership.objects.filter(
        user=user,
        organisation_id=job.organisation_id,
        role__in=[MembershipRole.OWNER, MembershipRole.MANAGER],
    ).exists()
    if not (job.created_by_id == user.pk or manager or user.is_staff):
        raise NotAllowed(_("Only the session's owner, the organisation's managers or staff stop a session."))
    return job_cancel(job=job, user=user)
