"""What a charge means for running jobs: warnings and stops for used-up budgets and idle GPUs.

The ledger reports the budget thresholds a charge crossed (quotas/ledger.py: budgets_crossed) and the
charge reports each job's utilisation (scheduler/charging.py); the decisions are here. Stops go through
scheduler/stopping.py like every other stop.
"""

from datetime import datetime

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from portal.notifications.services import notify
from portal.organisations.selectors import owners_and_managers
from quotas.ledger import BudgetState, budgets_crossed
from quotas.models import SECONDS_PER_HOUR
from scheduler import reasons
from scheduler.models import Job, JobEvent
from scheduler.signals import budget_exhausted
from scheduler.states import ACTIVE, JobState
from scheduler.stopping import job_request_stop


def budgets_enforce(keys: list[tuple[int, str]]) -> None:
    """Warn at 80 % and 100 % of an award; stop the running jobs of a budget that is used up."""
    for state in budgets_crossed(keys):
        budget = state.budget
        for threshold in state.crossed:
            _notify_threshold(state, threshold)
            if threshold == 100:
                budget_exhausted.send(
                    sender=budgets_enforce, allocation_id=budget.allocation_id, gpu_type=budget.gpu_type
                )
        if not state.used_up:
            continue
        for job in Job.objects.filter(
            allocation_id=budget.allocation_id,
            gpu_type=budget.gpu_type,
            state__in=list(ACTIVE),
            stop_requested="",
        ):
            job_request_stop(
                job_pk=job.pk,
                stop="exhausted",
                reason=reasons.exhausting(budget.gpu_type),
            )


def _notify_threshold(state: BudgetState, threshold: int) -> None:
    budget = state.budget
    allocation = budget.allocation
    used = budget.used_gpu_seconds / SECONDS_PER_HOUR
    if threshold >= 100:
        subject = gettext_lazy("{title}: {gpu_type} GPU-hours used up; running jobs are being stopped")
    else:
        # Translators: xgettext:no-python-format
        subject = gettext_lazy("{title}: {gpu_type} GPU-hours {threshold} % used")
    notify(
        recipients=owners_and_managers(allocation.organisation),
        subject=format_lazy(
            subject, title=allocation.project_title, gpu_type=budget.gpu_type, threshold=threshold
        ),
        body=format_lazy(
            gettext_lazy(
                "'{title}' has used {used} of {awarded} {gpu_type} GPU-hours. "
                "Request more through a change request on the allocation's page."
            ),
            title=allocation.project_title,
            used=f"{used:,.1f}",
            awarded=f"{budget.awarded_gpu_hours:,}",
            gpu_type=budget.gpu_type,
        ),
    )


def idle_watch(util: dict[int, list[tuple[float, datetime, datetime]]]) -> None:
    """Flag jobs whose GPUs stay below the idle threshold; warn, then (by policy) stop them."""
    threshold = settings.GPUGRANT_IDLE_UTILISATION_PCT
    for job in Job.objects.select_related("allocation", "organisation").filter(
        pk__in=list(util), state=JobState.RUNNING
    ):
        samples = util[job.pk]
        latest = max(end for _, _, end in samples)
        if max(pct for pct, _, _ in samples) >= threshold:
            if job.idle_since is not None:
                Job.objects.filter(pk=job.pk).update(idle_since=None, idle_warned_at=None)
            continue
        idle_since = job.idle_since or min(start for _, start, _ in samples)
        Job.objects.filter(pk=job.pk).update(idle_since=idle_since)
        idle_for = (latest - idle_since).total_seconds()
        if idle_for >= settings.GPUGRANT_IDLE_WARN_AFTER_S and job.idle_warned_at is None:
            Job.objects.filter(pk=job.pk).update(idle_warned_at=latest)
            minutes = int(idle_for // 60)
            JobEvent.objects.record(
                job=job,
                from_state=job.state,
                to_state=job.state,
                reason=reasons.idle_warning(minutes),
            )
            notify(
                recipients=[job.created_by, *owners_and_managers(job.organisation)],
                subject=format_lazy(gettext_lazy("Idle GPUs: {name}"), name=job.name),
                body=format_lazy(
                    gettext_lazy(
                        "The GPUs of job '{name}' have been below {threshold} % busy for {minutes} minutes. "
                        "Public GPUs are scarce: release them if the job is done, or gpugrant will stop it."
                    )
                    if job.allocation.idle_policy == "warn_then_stop"
                    else gettext_lazy(
                        "The GPUs of job '{name}' have been below {threshold} % busy for {minutes} minutes. "
                        "Public GPUs are scarce: release them if the job is done."
                    ),
                    name=job.name,
                    threshold=threshold,
                    minutes=minutes,
                ),
            )
        elif (
            idle_for >= settings.GPUGRANT_IDLE_STOP_AFTER_S
            and job.allocation.idle_policy == "warn_then_stop"
            and job.idle_warned_at is not None
        ):
            job_request_stop(
                job_pk=job.pk,
                stop="idle",
                reason=reasons.idle_stopping(int(idle_for // 60)),
            )
