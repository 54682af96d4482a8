"""Registering an organisation, managing its members, verifying it."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.organisations.models import MembershipRole, OrganisationType
from portal.providers.models import Region
from portal.web.forms.base import PortalForm, ReasonField


class OrganisationForm(PortalForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    org_type = forms.ChoiceField(label=_("Type"), choices=OrganisationType.choices)
    # Asked of every new registration; older organisations may have left it blank (counted as capital).
    region = forms.ChoiceField(
        label=_("Region"),
        choices=[("", _("Choose a region")), *Region.choices],
        help_text=_(
            "Where the organisation is based: some calls hold a share for those outside the capital area."
        ),
    )
    registration_number = forms.CharField(
        label=_("Registration number"),
        max_length=40,
        help_text=_("Business or institution registration number, e.g. 123-45-67890."),
    )


class MemberAddForm(PortalForm):
    email = forms.EmailField(label=_("Email of an existing gpugrant account"))
    role = forms.ChoiceField(label=_("Role"), choices=MembershipRole.choices, initial=MembershipRole.MEMBER)


class VerifyForm(PortalForm):
    verified = forms.TypedChoiceField(
        choices=[("1", _("Verified")), ("0", _("Not verified"))], coerce=lambda value: value == "1"
    )
    reason = ReasonField(required=False)
