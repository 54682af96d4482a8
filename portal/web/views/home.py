"""The dashboard: what the signed-in person has, and what waits for them."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal.calls.selectors import calls_open
from portal.web import selectors
from quotas.selectors import allocation_balances

HOME_JOBS = 20


@login_required
def home(request):
    user = request.user
    allocations = [
        {"allocation": allocation, "balances": allocation_balances(allocation)}
        for allocation in selectors.own_allocations(user)
    ]
    context = {
        "memberships": selectors.memberships_of(user),
        "applications": selectors.own_applications(user),
        "allocations": allocations,
        "job_rows": selectors.job_rows(selectors.own_current_jobs(user)[:HOME_JOBS]),
        "open_calls": calls_open(),
    }
    if user.is_reviewer:
        context["pending_review_count"] = selectors.pending_reviews_for(user).count()
    if user.is_staff:
        context["awaiting_assignment_count"] = selectors.applications_awaiting_assignment().count()
        context["awaiting_verification_count"] = selectors.organisations_awaiting_verification().count()
    return render(request, "web/home.html", context)
