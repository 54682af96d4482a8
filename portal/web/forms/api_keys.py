"""Creating an API key from the portal."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.web.forms.base import PortalForm


class ApiKeyForm(PortalForm):
    name = forms.CharField(
        label=_("Name"), max_length=100, required=False, help_text=_("Where the key is used, e.g. 'laptop'.")
    )
    read_only = forms.BooleanField(
        label=_("Read-only"), required=False, help_text=_("The key may read but never change anything.")
    )
