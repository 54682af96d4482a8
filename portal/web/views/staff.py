"""Staff's pages: the work queue, calls, and organisations to verify."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from portal.calls.selectors import calls_visible_to
from portal.errors import ServiceError
from portal.organisations.selectors import organisations_visible_to
from portal.web import selectors
from portal.web.access import staff_required, visible_or_404
from portal.web.forms.calls import CallForm
from portal.web.forms.organisations import VerifyForm
from quotas import calls as call_services


@staff_required
def staff_home(request):
    context = {
        "awaiting_assignment": selectors.applications_awaiting_assignment(),
        "under_review": selectors.applications_under_review(),
        "awaiting_verification": selectors.organisations_awaiting_verification(),
        "calls": calls_visible_to(request.user),
        "verify_form": VerifyForm(),
    }
    return render(request, "web/staff/home.html", context)


@staff_required
def staff_call_create(request):
    form = CallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            call = call_services.call_create(staff=request.user, **form.service_arguments())
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The call is saved."))
            return redirect("web:call_detail", public_id=call.public_id)
    return render(request, "web/staff/call_form.html", {"form": form})


@staff_required
def staff_call_edit(request, public_id):
    call = visible_or_404(calls_visible_to(request.user), public_id)
    form = CallForm(request.POST or None, call=call)
    if request.method == "POST" and form.is_valid():
        try:
            call = call_services.call_update(call=call, staff=request.user, **form.service_arguments())
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("The call is saved."))
            return redirect("web:call_detail", public_id=call.public_id)
    return render(request, "web/staff/call_form.html", {"form": form, "call": call})


@staff_required
def staff_organisation_list(request):
    organisations = organisations_visible_to(request.user).order_by("verified", "name")
    return render(
        request, "web/staff/organisations.html", {"organisations": organisations, "verify_form": VerifyForm()}
    )
