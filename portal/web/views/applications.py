"""Applications: apply, edit, submit, withdraw; and staff's assignment and decision."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.applications import services
from portal.applications.models import ApplicationKind
from portal.applications.selectors import (
    application_is_member_visible,
    applications_visible_to,
    reviews_visible_on,
)
from portal.applications.states import EDITABLE_STATES, Action, State, allowed_actions
from portal.audit.selectors import audit_events_for
from portal.calls.selectors import calls_open, calls_visible_to
from portal.errors import ServiceError
from portal.web.access import visible_or_404
from portal.web.forms.applications import (
    ApplicationForm,
    AssignForm,
    ChangeRequestForm,
    DecisionForm,
    WithdrawForm,
)
from portal.web.selectors import organisations_of, reviewer_candidates
from quotas import services as quota_services
from quotas.selectors import allocations_visible_to

ASSIGNABLE_STATES = (State.SUBMITTED, State.RESUBMITTED, State.UNDER_REVIEW)


def _visible_application(user, public_id):
    return visible_or_404(applications_visible_to(user), public_id)


def _error_summary(error: ServiceError) -> str:
    details = [message for messages_ in error.fields.values() for message in messages_]
    return " ".join([error.message, *details])


@login_required
def application_list(request):
    applications = applications_visible_to(request.user).order_by("-created_at")
    return render(request, "web/applications/list.html", {"applications": applications})


@login_required
def application_create(request):
    user = request.user
    call_id = request.GET.get("call", "")
    if not call_id:
        return render(request, "web/applications/choose_call.html", {"calls": calls_open()})
    try:
        uuid.UUID(call_id)
    except ValueError as exc:
        raise Http404 from exc
    call = visible_or_404(calls_visible_to(user), call_id)
    if not call.is_open():
        messages.error(request, _("This call is not open for applications."))
        return redirect("web:call_detail", public_id=call.public_id)
    organisations = organisations_of(user)
    if not organisations.exists():
        return render(request, "web/applications/no_organisation.html", {"call": call})
    form = ApplicationForm(request.POST or None, call=call, organisations=organisations)
    preview = False
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = True
        else:
            try:
                application = services.application_create(
                    user=user,
                    organisation=form.cleaned_data["organisation"],
                    call=call,
                    gpu_requests=form.gpu_requests,
                    **form.content(),
                    **form.chosen_track(),
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Your draft is saved. Submit it when it is ready."))
                return redirect("web:application_detail", public_id=application.public_id)
    context = {"form": form, "call": call, "preview": preview}
    return render(request, "web/applications/form.html", context)


@login_required
def application_edit(request, public_id):
    user = request.user
    application = _visible_application(user, public_id)
    if not application_is_member_visible(user, application):
        raise PermissionDenied
    if application.state not in EDITABLE_STATES:
        messages.error(request, _("Only drafts and applications returned for revision can be edited."))
        return redirect("web:application_detail", public_id=application.public_id)
    if application.kind == ApplicationKind.CHANGE:
        form = ChangeRequestForm(
            request.POST or None, allocation=application.allocation, application=application
        )
    else:
        form = ApplicationForm(request.POST or None, call=application.call, application=application)
    preview = False
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = True
        else:
            try:
                extra = form.chosen_track() if isinstance(form, ApplicationForm) else {}
                services.application_update(
                    application=application,
                    user=user,
                    gpu_requests=form.gpu_requests,
                    **form.content(),
                    **extra,
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, _("Your changes are saved."))
                return redirect("web:application_detail", public_id=application.public_id)
    context = {"form": form, "call": application.call, "application": application, "preview": preview}
    return render(request, "web/applications/form.html", context)


def _render_detail(request, application, *, withdraw_form=None, assign_form=None, decision_form=None):
    user = request.user
    is_member = application_is_member_visible(user, application)
    actions = set(allowed_actions(application.state))
    context = {
        "application": application,
        "is_member": is_member,
        "gpu_lines": application.gpu_requests.all(),
        "reviews": reviews_visible_on(application, user).order_by("round", "assigned_at"),
        "can_submit": is_member and bool(actions & {Action.SUBMIT, Action.RESUBMIT}),
        "can_withdraw": is_member and Action.WITHDRAW in actions,
        "can_edit": is_member and application.state in EDITABLE_STATES,
        "withdraw_form": withdraw_form or WithdrawForm(),
        "allocation": allocations_visible_to(user).filter(application=application).first(),
    }
    if user.is_staff:
        if application.state in ASSIGNABLE_STATES:
            context["assign_form"] = assign_form or AssignForm(candidates=reviewer_candidates(application))
        if application.state == State.UNDER_REVIEW:
            context["decision_form"] = decision_form or DecisionForm(application=application)
        context["scores_summary"] = services.review_scores_summary(application)
        context["audit_events"] = audit_events_for(target_type="application", target_id=application.public_id)
    return render(request, "web/applications/detail.html", context)


@login_required
def application_detail(request, public_id):
    return _render_detail(request, _visible_application(request.user, public_id))


@login_required
@require_POST
def application_submit(request, public_id):
    application = _visible_application(request.user, public_id)
    try:
        application = services.application_submit(application=application, user=request.user)
    except ServiceError as error:
        messages.error(request, _error_summary(error))
    else:
        messages.success(request, _("Your application is submitted. Staff will assign reviewers."))
    return redirect("web:application_detail", public_id=application.public_id)


@login_required
@require_POST
def application_withdraw(request, public_id):
    application = _visible_application(request.user, public_id)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            services.application_withdraw(application=application, user=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The application is withdrawn."))
            return redirect("web:application_detail", public_id=application.public_id)
    return _render_detail(request, application, withdraw_form=form)


@login_required
@require_POST
def application_assign(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    application = _visible_application(request.user, public_id)
    form = AssignForm(request.POST, candidates=reviewer_candidates(application))
    if form.is_valid():
        try:
            created = services.review_assign(
                application=application, staff=request.user, reviewers=list(form.cleaned_data["reviewers"])
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("%(count)d reviewer(s) assigned.") % {"count": len(created)})
            return redirect("web:application_detail", public_id=application.public_id)
    return _render_detail(request, application, assign_form=form)


@login_required
@require_POST
def application_decide(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    application = _visible_application(request.user, public_id)
    form = DecisionForm(request.POST, application=application)
    if form.is_valid():
        try:
            quota_services.application_decide(
                application=application,
                staff=request.user,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                awarded_gpu_hours=form.awarded_gpu_hours(),
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The decision is recorded and the applicant is notified."))
            return redirect("web:application_detail", public_id=application.public_id)
    return _render_detail(request, application, decision_form=form)
