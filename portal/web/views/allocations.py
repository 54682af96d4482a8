"""Allocations: balances, change requests, and staff's suspension and session settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.applications.selectors import applications_visible_to
from portal.audit.selectors import audit_events_for
from portal.errors import ServiceError
from portal.organisations.selectors import organisation_ids_of
from portal.web.access import visible_or_404
from portal.web.after_award_context import after_award_context
from portal.web.burn_selectors import allocation_burn
from portal.web.forms.allocations import AllocationStatusForm
from portal.web.forms.applications import ChangeRequestForm
from portal.web.forms.sessions import SessionSettingsForm
from portal.web.views.usage import idle_rules, usage_context
from quotas import services as quota_services
from quotas.models import AllocationStatus, UsageRecord
from quotas.selectors import allocation_balances, allocations_visible_to
from quotas.session_settings import allocation_session_settings_set
from scheduler.selectors import jobs_visible_to
from scheduler.sessions import session_gpus_in_use

RECENT_JOBS = 10


def _is_member(user, allocation) -> bool:
    return allocation.organisation_id in organisation_ids_of(user)


@login_required
def allocation_list(request):
    rows = [
        {"allocation": allocation, "balances": allocation_balances(allocation)}
        for allocation in allocations_visible_to(request.user)
    ]
    return render(request, "web/allocations/list.html", {"rows": rows})


@login_required
@require_POST
def allocation_set_custom_images(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    allowed = request.POST.get("allowed") == "1"
    quota_services.allocation_set_custom_images(allocation=allocation, staff=request.user, allowed=allowed)
    if allowed:
        messages.success(request, _("Jobs of this allocation may now give their own image."))
    else:
        messages.success(request, _("Jobs of this allocation now run catalogue environments only."))
    return redirect("web:allocation_detail", public_id=allocation.public_id)


def render_detail(request, allocation, *, status_form=None, session_settings_form=None, **forms):
    """The allocation's page; bound ``forms`` (by context name) are shown again with their errors."""
    user = request.user
    is_member = _is_member(user, allocation)
    context = {
        "allocation": allocation,
        "balances": allocation_balances(allocation),
        "change_requests": applications_visible_to(user)
        .filter(allocation=allocation)
        .order_by("-created_at"),
        "is_member": is_member,
        "can_request_change": is_member and allocation.status == AllocationStatus.ACTIVE,
        "can_submit_job": is_member and allocation.status == AllocationStatus.ACTIVE,
        "recent_jobs": jobs_visible_to(user)
        .filter(allocation=allocation)
        .order_by("-submitted_at", "-pk")[:RECENT_JOBS],
        **usage_context(UsageRecord.objects.filter(allocation=allocation)),
        **idle_rules(),
        "burns": allocation_burn(allocation, today=timezone.localdate()),
        "session_gpus_in_use": session_gpus_in_use(allocation),
        **after_award_context(user, allocation, forms),
    }
    if context["can_request_change"]:
        context["change_form"] = ChangeRequestForm(allocation=allocation)
    if user.is_staff:
        if allocation.status in (AllocationStatus.ACTIVE, AllocationStatus.SUSPENDED):
            context["status_form"] = status_form or AllocationStatusForm()
        context["session_settings_form"] = session_settings_form or SessionSettingsForm.for_allocation(
            allocation
        )
        context["audit_events"] = audit_events_for(target_type="allocation", target_id=allocation.public_id)
    return render(request, "web/allocations/detail.html", context)


@login_required
def allocation_detail(request, public_id):
    return render_detail(request, visible_or_404(allocations_visible_to(request.user), public_id))


@login_required
def change_request_create(request, public_id):
    user = request.user
    allocation = visible_or_404(allocations_visible_to(user), public_id)
    if not _is_member(user, allocation):
        raise PermissionDenied
    if allocation.status != AllocationStatus.ACTIVE:
        messages.error(request, _("Only active allocations can be changed."))
        return redirect("web:allocation_detail", public_id=allocation.public_id)
    form = ChangeRequestForm(request.POST or None, allocation=allocation)
    preview = False
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = True
        else:
            try:
                application = quota_services.change_request_create(
                    user=user, allocation=allocation, gpu_requests=form.gpu_requests, **form.content()
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(
                    request, _("Your change request is saved as a draft. Submit it when it is ready.")
                )
                return redirect("web:application_detail", public_id=application.public_id)
    context = {"form": form, "allocation": allocation, "preview": preview}
    return render(request, "web/allocations/change.html", context)


@login_required
@require_POST
def allocation_set_status(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    form = AllocationStatusForm(request.POST)
    if form.is_valid():
        try:
            allocation = quota_services.allocation_set_status(
                allocation=allocation, staff=request.user, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, _("The allocation is now %(status)s.") % {"status": allocation.get_status_display()}
            )
            return redirect("web:allocation_detail", public_id=allocation.public_id)
    return render_detail(request, allocation, status_form=form)


@login_required
@require_POST
def allocation_set_session_settings(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    form = SessionSettingsForm(request.POST)
    if form.is_valid():
        try:
            allocation_session_settings_set(staff=request.user, allocation=allocation, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The allocation's session settings are saved."))
            return redirect("web:allocation_detail", public_id=allocation.public_id)
    return render_detail(request, allocation, session_settings_form=form)
