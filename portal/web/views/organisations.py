"""Organisations: listing, registering, members, verification."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.errors import NotAllowed, ServiceError
from portal.organisations import services as organisation_services
from portal.organisations.models import MembershipRole
from portal.organisations.selectors import membership_of, organisations_visible_to
from portal.organisations.services import (
    invitation_accept,
    invitation_by_token,
    membership_invite,
    membership_remove,
    organisation_verify,
)
from portal.web.access import visible_or_404
from portal.web.forms.organisations import MemberAddForm, OrganisationForm, VerifyForm
from portal.web.views.usage import organisation_usage_context


@login_required
def organisation_list(request):
    organisations = organisations_visible_to(request.user).order_by("name")
    return render(request, "web/organisations/list.html", {"organisations": organisations})


@login_required
def organisation_create(request):
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation = organisation_services.organisation_create(
                creator=request.user, **form.cleaned_data
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("%(name)s is registered. Programme staff will verify it.") % {"name": organisation.name},
            )
            return redirect("web:organisation_detail", public_id=organisation.public_id)
    return render(request, "web/organisations/create.html", {"form": form})


def _render_detail(request, organisation, *, member_form=None, status=200):
    user = request.user
    viewer = membership_of(user, organisation)
    can_manage = viewer is not None and viewer.can_manage
    memberships = organisation.memberships.select_related("user").order_by("role", "user__email")
    rows = [
        {
            "membership": membership,
            # The service has the final word; this only hides buttons that would be refused.
            "removable": can_manage
            and (membership.role == MembershipRole.MEMBER or viewer.role == MembershipRole.OWNER),
        }
        for membership in memberships
    ]
    context = {
        "organisation": organisation,
        "viewer_membership": viewer,
        "rows": rows,
        # Open invitations, to those who may invite: an address with an account looks like one without.
        "invitations": organisation.invitations.filter(
            accepted_at=None, expires_at__gt=timezone.now()
        ).order_by("email")
        if can_manage or user.is_staff
        else [],
        "member_form": member_form or (MemberAddForm() if can_manage else None),
        "verify_form": VerifyForm() if user.is_staff else None,
    }
    if viewer is not None or user.is_staff:  # usage is for members and staff only
        context.update(organisation_usage_context(organisation))
    return render(request, "web/organisations/detail.html", context, status=status)


@login_required
def organisation_detail(request, public_id):
    organisation = visible_or_404(organisations_visible_to(request.user), public_id)
    return _render_detail(request, organisation)


@login_required
@require_POST
def organisation_member_add(request, public_id):
    organisation = visible_or_404(organisations_visible_to(request.user), public_id)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            invitation = membership_invite(organisation=organisation, actor=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            # The same words whether or not an account uses the address (the invitation says the rest).
            messages.success(
                request, _("An invitation is on its way to %(email)s.") % {"email": invitation.email}
            )
            return redirect("web:organisation_detail", public_id=organisation.public_id)
    return _render_detail(request, organisation, member_form=form)


@login_required
@require_POST
def organisation_member_remove(request, public_id, user_id):
    organisation = visible_or_404(organisations_visible_to(request.user), public_id)
    membership = get_object_or_404(organisation.memberships.select_related("user"), user__public_id=user_id)
    try:
        membership_remove(membership=membership, actor=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(email)s is no longer a member.") % {"email": membership.user.email})
    return redirect("web:organisation_detail", public_id=organisation.public_id)


@login_required
@require_POST
def organisation_set_verified(request, public_id):
    if not request.user.is_staff:
        raise PermissionDenied
    organisation = visible_or_404(organisations_visible_to(request.user), public_id)
    form = VerifyForm(request.POST)
    if form.is_valid():
        try:
            organisation = organisation_verify(
                organisation=organisation, staff=request.user, **form.cleaned_data
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            if organisation.verified:
                messages.success(request, _("%(name)s is verified.") % {"name": organisation.name})
            else:
                messages.success(request, _("%(name)s is no longer verified.") % {"name": organisation.name})
    else:
        messages.error(
            request,
            _("The verification could not be changed: %(errors)s") % {"errors": form.errors.as_text()},
        )
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("web:organisation_detail", public_id=organisation.public_id)


def invitation(request, token):
    """An emailed invitation: who invites whom to what, and (signed in with that address) accept it."""
    found = invitation_by_token(token)
    if found is None:
        raise Http404
    context = {"invitation": found, "next": request.get_full_path()}
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            invitation_accept(invitation=found, user=request.user)
        except NotAllowed as error:
            return render(
                request,
                "web/organisations/invitation.html",
                {**context, "problem": error.message},
                status=403,
            )
        except ServiceError as error:
            return render(request, "web/organisations/invitation.html", {**context, "problem": error.message})
        messages.success(request, _("You are now a member of %(name)s.") % {"name": found.organisation.name})
        return redirect("web:organisation_detail", public_id=found.organisation.public_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    if request.user.is_authenticated and request.user.email.lower() != found.email:
        context["problem"] = _("This invitation is for another email address.")
    elif found.accepted_at is not None:
        context["problem"] = _("This invitation has been used already.")
    elif not found.is_open:
        context["problem"] = _("This invitation has expired; ask for a new one.")
    return render(request, "web/organisations/invitation.html", context)
