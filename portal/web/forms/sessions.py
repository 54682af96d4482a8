"""Launching a session, and staff's change of an allocation's session rules.

Both only turn the browser's text into the values the services take; scheduler.sessions.session_launch
and quotas.session_settings.allocation_session_settings_set decide whether they are valid, and their
errors are shown next to the fields (the services' field names are these forms' field names).
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.environments.selectors import environments_active
from portal.web.forms.base import PortalForm
from portal.web.forms.jobs import AllocationChoiceField, awarded_types
from quotas.session_settings import GPU_CAP_MOST, IDLE_MINUTES_LEAST, IDLE_MINUTES_MOST
from scheduler.sessions import MAX_SESSION_MINUTES


class SessionForm(PortalForm):
    """A new session. Choices: the user's active allocations, catalogue environments offered for sessions,
    the GPU types awarded to those allocations."""

    allocation = AllocationChoiceField(
        label=_("Allocation"), queryset=None, to_field_name="public_id", empty_label=_("Choose an allocation")
    )
    environment_name = forms.CharField(
        label=_("Software environment"),
        widget=forms.Select,
        help_text=_("A catalogue environment with JupyterLab."),
    )
    gpu_type = forms.CharField(label=_("GPU type"), widget=forms.Select)
    gpus = forms.IntegerField(label=_("GPUs"), initial=1, widget=forms.NumberInput(attrs={"min": 1}))
    time_limit_minutes = forms.IntegerField(
        label=_("Time limit (minutes)"),
        initial=120,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_SESSION_MINUTES}),
        help_text=_("The session is stopped after this long. Its GPU-hours are held until it ends."),
    )

    def __init__(self, *args, allocations, **kwargs):
        listed = list(allocations)
        if len(listed) == 1:
            kwargs.setdefault("initial", {}).setdefault("allocation", listed[0].public_id)
        super().__init__(*args, **kwargs)
        self.fields["allocation"].queryset = allocations
        # Any name parses; the service says whether it is active and offered for sessions.
        self.fields["environment_name"].widget.choices = [
            (e.name, f"{e.display_name} — {e.name}") for e in environments_active().filter(for_sessions=True)
        ]
        # The service checks the chosen type against the chosen allocation's budgets.
        types = sorted({gpu_type for allocation in listed for gpu_type in awarded_types(allocation)})
        self.fields["gpu_type"].widget.choices = [(gpu_type, gpu_type) for gpu_type in types]

    def session_values(self) -> dict:
        data = self.cleaned_data
        return {name: data[name] for name in ("environment_name", "gpu_type", "gpus", "time_limit_minutes")}


class SessionSettingsForm(PortalForm):
    """Staff: an allocation's session rules. Bounds are browser hints; the service checks them."""

    gpu_cap = forms.IntegerField(
        label=_("Most GPUs in sessions at once"),
        widget=forms.NumberInput(attrs={"min": 0, "max": GPU_CAP_MOST}),
        help_text=_("0: the allocation offers no sessions."),
    )
    idle_minutes = forms.IntegerField(
        label=_("Idle limit (minutes)"),
        widget=forms.NumberInput(attrs={"min": IDLE_MINUTES_LEAST, "max": IDLE_MINUTES_MOST}),
        help_text=_("A session idle this long is stopped."),
    )
    managers_may_enter = forms.BooleanField(
        label=_("The organisation's managers may enter its members' sessions"), required=False
    )

    @classmethod
    def for_allocation(cls, allocation) -> "SessionSettingsForm":
        return cls(
            initial={
                "gpu_cap": allocation.session_gpu_cap,
                "idle_minutes": allocation.session_idle_minutes,
                "managers_may_enter": allocation.session_managers_may_enter,
            }
        )
