"""Interactive sessions: the list, launching one, a session's page and stopping it.

Thin over scheduler.sessions, the same services the REST API calls. A session opens at the proxy's
address (/sessions/<id>/, portal/sessions_proxy); its page here is /my-sessions/<id>/.
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.errors import ServiceError
from portal.web import selectors
from portal.web.access import visible_or_404
from portal.web.forms.sessions import SessionForm
from scheduler import sessions
from scheduler.selectors import job_queue_facts, job_start_estimates, sessions_visible_to
from scheduler.states import TERMINAL, JobState


def lab_url(job) -> str:
    """Where a session's JupyterLab opens: the proxy's address, not a page of this portal."""
    return f"/sessions/{job.public_id}/lab"


def open_url(job) -> str | None:
    """A running session's lab_url."""
    return lab_url(job) if job.state == JobState.RUNNING else None


def session_rules(allocations) -> list[dict]:
    """Each allocation's session rules, and the GPUs its sessions hold now."""
    return [
        {
            "allocation": allocation,
            "gpu_cap": allocation.session_gpu_cap,
            "gpus_in_use": sessions.session_gpus_in_use(allocation),
            "idle_minutes": allocation.session_idle_minutes,
        }
        for allocation in allocations
    ]


@login_required
def session_list(request):
    rows = [{"job": job, "open_url": open_url(job)} for job in selectors.own_sessions(request.user)]
    return render(request, "web/sessions/list.html", {"rows": rows})


@login_required
def session_launch(request):
    user = request.user
    allocations = selectors.submittable_allocations(user)
    if not allocations.exists():
        return render(request, "web/sessions/no_allocation.html")
    form = SessionForm(request.POST or None, allocations=allocations)
    if request.method == "POST" and form.is_valid():
        try:
            job = sessions.session_launch(
                user=user, allocation=form.cleaned_data["allocation"], **form.session_values()
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, _("The session is queued. Its page shows when it may start, and where it opens.")
            )
            return redirect("web:session_detail", public_id=job.public_id)
    return render(request, "web/sessions/form.html", {"form": form, "rules": session_rules(allocations)})


def _idle_stop_at(job):
    """When an idle session is stopped, counted from its last activity (once the proxy has seen any)."""
    session = job.session
    if job.state != JobState.RUNNING or session.last_activity_at is None:
        return None
    return session.last_activity_at + timedelta(minutes=session.idle_limit_minutes)


@login_required
def session_detail(request, public_id):
    job = visible_or_404(sessions_visible_to(request.user), public_id)
    context = {
        "job": job,
        "session": job.session,
        "facts": job_queue_facts(job),
        "start_estimates": job_start_estimates(job),
        "open_url": open_url(job),
        # queued or placed, not yet running: the page opens the session once it runs (session_wait.js)
        "waiting": JobState(job.state) not in TERMINAL and job.state != JobState.RUNNING,
        "waiting_open_url": lab_url(job),
        "can_stop": JobState(job.state) not in TERMINAL,
        "idle_stop_at": _idle_stop_at(job),
    }
    return render(request, "web/sessions/detail.html", context)


@login_required
@require_POST
def session_stop(request, public_id):
    job = visible_or_404(sessions_visible_to(request.user), public_id)
    try:
        job = sessions.session_stop(job=job, user=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if job.state == JobState.CANCELLED:
            messages.success(request, _("The session is stopped; its notebooks stay in your workspace."))
        else:
            messages.success(
                request, _("The session is being stopped; its notebooks stay in your workspace.")
            )
    return redirect("web:session_detail", public_id=public_id)
