"""Staff's suspension and reactivation of an allocation."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.web.forms.base import PortalForm, ReasonField
from quotas.models import AllocationStatus


class AllocationStatusForm(PortalForm):
    status = forms.ChoiceField(
        choices=[(AllocationStatus.ACTIVE, _("Reactivate")), (AllocationStatus.SUSPENDED, _("Suspend"))]
    )
    reason = ReasonField(label=_("Reason (the organisation sees it)"))
