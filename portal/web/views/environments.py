"""Staff's pages for the environments catalogue: list, add, edit, deactivate and reactivate."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.environments import services
from portal.environments.models import Environment
from portal.environments.selectors import environments_all
from portal.errors import ServiceError
from portal.web.access import staff_required
from portal.web.forms.environments import EnvironmentForm


@staff_required
def staff_environment_list(request):
    return render(request, "web/staff/environments.html", {"environments": environments_all()})


@staff_required
def staff_environment_create(request):
    form = EnvironmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            environment = services.environment_create(staff=request.user, **form.service_arguments())
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("%(name)s is in the catalogue.") % {"name": environment.name})
            return redirect("web:staff_environment_list")
    return render(request, "web/staff/environment_form.html", {"form": form})


@staff_required
def staff_environment_edit(request, public_id):
    environment = get_object_or_404(Environment, public_id=public_id)
    form = EnvironmentForm(request.POST or None, environment=environment)
    if request.method == "POST" and form.is_valid():
        try:
            services.environment_update(
                environment=environment, staff=request.user, **form.service_arguments()
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("%(name)s is saved.") % {"name": environment.name})
            return redirect("web:staff_environment_list")
    return render(request, "web/staff/environment_form.html", {"form": form, "environment": environment})


@login_required
@require_POST
def staff_environment_set_active(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    environment = get_object_or_404(Environment, public_id=public_id)
    active = request.POST.get("active") == "1"
    try:
        services.environment_update(environment=environment, staff=request.user, active=active)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if active:
            messages.success(request, _("%(name)s is offered again.") % {"name": environment.name})
        else:
            messages.success(
                request,
                _("%(name)s is no longer offered; jobs that ran it keep it.") % {"name": environment.name},
            )
    return redirect("web:staff_environment_list")
