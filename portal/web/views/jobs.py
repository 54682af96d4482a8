"""Jobs: the list with filters, a job's page (queue facts, events, logs), submitting and cancelling.

Submitting and cancelling go through scheduler.services, the same services the REST API calls, so
the portal applies the same validation, admission rules and budget holds.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.errors import ServiceError
from portal.web import selectors
from portal.web.access import visible_or_404
from portal.web.forms.jobs import JobFilterForm, JobForm
from portal.web.run_selectors import job_run_series
from quotas.reports import job_usage
from quotas.selectors import allocations_visible_to
from scheduler import services
from scheduler.backends import get_backend
from scheduler.selectors import job_events, job_queue_facts, job_start_estimates, jobs_visible_to
from scheduler.states import TERMINAL, JobState

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
SUBMISSION_KEY_PREFIX = "web:"


@login_required
def job_list(request):
    user = request.user
    jobs = jobs_visible_to(user).order_by("-submitted_at", "-pk")
    allocations = allocations_visible_to(user).order_by("project_title", "created_at")
    filters = JobFilterForm(request.GET or None, allocations=allocations)
    if filters.is_bound:
        jobs = filters.apply(jobs) if filters.is_valid() else jobs.none()
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"filters": filters, "page": page, "rows": selectors.job_rows(page)}
    return render(request, "web/jobs/list.html", context)


def _log_tail(job) -> dict:
    """The end of the job's output, at most GPUGRANT_LOG_LIMIT_BYTES; a note instead if the backend fails."""
    limit = settings.GPUGRANT_LOG_LIMIT_BYTES
    tail = {"limit_bytes": limit, "text": "", "started": bool(job.backend), "unavailable": False}
    if not job.backend:
        return tail
    try:
        text = get_backend(job.backend).logs(str(job.public_id), limit)
    except Exception:  # noqa: BLE001 - logs are best effort; the page says so instead of failing
        logger.warning(
            "logs of job %s are not available from backend %s", job.public_id, job.backend, exc_info=True
        )
        tail["unavailable"] = True
        return tail
    # Bound it here as well, and drop a character the cut may have split.
    tail["text"] = (text or "").encode()[-limit:].decode(errors="ignore")
    return tail


def _idle_notice(job) -> dict | None:
    """What the page says about idle GPUs: since when, and what the allocation's idle policy will do."""
    if job.idle_since is None or job.state != JobState.RUNNING:  # only a running job's GPUs can sit idle
        return None
    stops = job.allocation.idle_policy == "warn_then_stop"
    stop_from = job.idle_since + timedelta(seconds=settings.GPUGRANT_IDLE_STOP_AFTER_S) if stops else None
    return {
        "since": job.idle_since,
        "threshold": settings.GPUGRANT_IDLE_UTILISATION_PCT,
        "warned_at": job.idle_warned_at,
        "stops": stops,
        "stop_after_minutes": settings.GPUGRANT_IDLE_STOP_AFTER_S // 60,
        "stop_from": stop_from,
        "stop_due": stop_from is not None and stop_from <= timezone.now(),
    }


@login_required
def job_detail(request, public_id):
    job = visible_or_404(jobs_visible_to(request.user), public_id)
    context = {
        "job": job,
        "facts": job_queue_facts(job),
        "events": job_events(job),
        "environment": sorted(job.environment.items()),
        "logs": _log_tail(job),
        "can_cancel": JobState(job.state) not in TERMINAL,
        "usage": job_usage(job),
        "run": job_run_series(job),
        "idle": _idle_notice(job),
        "start_estimates": job_start_estimates(job),
    }
    return render(request, "web/jobs/detail.html", context)


@login_required
def job_submit(request):
    user = request.user
    allocations = selectors.submittable_allocations(user)
    if not allocations.exists():
        return render(request, "web/jobs/no_allocation.html")
    preselected = None
    wanted = request.GET.get("allocation")
    if wanted and request.method == "GET":
        preselected = next((a for a in allocations if str(a.public_id) == wanted), None)
        if preselected is None:
            messages.warning(
                request, _("That allocation is not one of your active allocations; choose one below.")
            )
    form = JobForm(request.POST or None, user=user, allocations=allocations, preselected=preselected)
    if request.method == "POST" and form.is_valid():
        allocation = form.cleaned_data["allocation"]
        values = form.job_values()
        try:
            _status, body, created = services.job_submit_once(
                user=user,
                key=SUBMISSION_KEY_PREFIX + form.cleaned_data["submission_key"],
                payload={"allocation": str(allocation.public_id), **values},
                submit=lambda record: services.job_submit(
                    user=user, allocation=allocation, record=record, **values
                ),
                render=lambda job: {"id": str(job.public_id)},
            )
        except ServiceError as error:
            if error.code == "idempotency_key_reused":
                form.add_error(
                    None,
                    _(
                        "This form was already used to submit a job, with other values. "
                        "Check the fields and submit again to create a new job."
                    ),
                )
                form.renew_submission_key()
            else:
                form.add_service_error(error)
        else:
            if created:
                messages.success(
                    request,
                    _("The job is queued. Its page shows its place in the queue and when it may start."),
                )
            else:
                messages.info(request, _("This form was already submitted; here is the job it created."))
            return redirect("web:job_detail", public_id=body["id"])
    return render(request, "web/jobs/form.html", {"form": form})


@login_required
@require_POST
def job_cancel(request, public_id):
    job = visible_or_404(jobs_visible_to(request.user), public_id)
    try:
        job = services.job_cancel(job=job, user=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if job.state == JobState.CANCELLED:
            messages.success(request, _("The job is cancelled; the GPU-hours it held are released."))
        else:
            messages.success(
                request, _("The job is being stopped. It shows as cancelled once its pods have stopped.")
            )
    return redirect("web:job_detail", public_id=public_id)
