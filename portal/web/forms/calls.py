"""Opening and editing a call (staff)."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.organisations.models import OrganisationType
from portal.web.forms.base import DATE_WIDGET, DATETIME_INPUT_FORMATS, DATETIME_WIDGET, PortalForm
from quotas.calls import MAX_POOL_GPU_HOURS


class PoolRow:
    def __init__(self, form: "CallForm", gpu_type: str):
        self.gpu_type = gpu_type
        self.total = form[f"pool_total_{gpu_type}"]
        self.cap = form[f"pool_max_{gpu_type}"]


class CallForm(PortalForm):
    """Blank pool inputs mean the call does not offer that GPU type."""

    sections = ("pools",)

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    opens_at = forms.DateTimeField(
        label=_("Opens at"), widget=DATETIME_WIDGET, input_formats=DATETIME_INPUT_FORMATS
    )
    closes_at = forms.DateTimeField(
        label=_("Closes at"), widget=DATETIME_WIDGET, input_formats=DATETIME_INPUT_FORMATS
    )
    eligible_org_types = forms.MultipleChoiceField(
        label=_("Eligible organisation types"),
        choices=OrganisationType.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    allocation_start = forms.DateField(label=_("Allocations start on or after"), widget=DATE_WIDGET)
    allocation_end = forms.DateField(label=_("Allocations end on or before"), widget=DATE_WIDGET)

    def __init__(self, *args, call=None, **kwargs):
        if call is not None:
            kwargs.setdefault("initial", {}).update(
                title=call.title,
                description=call.description,
                opens_at=call.opens_at,
                closes_at=call.closes_at,
                eligible_org_types=call.eligible_org_types,
                allocation_start=call.allocation_start,
                allocation_end=call.allocation_end,
            )
            for pool in call.pools.all():
                kwargs["initial"][f"pool_total_{pool.gpu_type}"] = pool.total_gpu_hours
                kwargs["initial"][f"pool_max_{pool.gpu_type}"] = pool.max_gpu_hours_per_application
        super().__init__(*args, **kwargs)
        for gpu_type in settings.GPUGRANT_GPU_TYPES:
            total_label = _("%(gpu_type)s pool (GPU-hours)") % {"gpu_type": gpu_type}
            cap_label = _("%(gpu_type)s maximum per application") % {"gpu_type": gpu_type}
            self.fields[f"pool_total_{gpu_type}"] = forms.IntegerField(
                label=total_label,
                required=False,
                min_value=1,
                max_value=MAX_POOL_GPU_HOURS,
                widget=forms.NumberInput(attrs={"aria-label": total_label}),
            )
            self.fields[f"pool_max_{gpu_type}"] = forms.IntegerField(
                label=cap_label,
                required=False,
                min_value=1,
                max_value=MAX_POOL_GPU_HOURS,
                widget=forms.NumberInput(attrs={"aria-label": cap_label}),
            )

    @property
    def pool_rows(self) -> list[PoolRow]:
        return [PoolRow(self, gpu_type) for gpu_type in settings.GPUGRANT_GPU_TYPES]

    def clean(self):
        cleaned = super().clean()
        self.pools: list[dict] = []
        for gpu_type in settings.GPUGRANT_GPU_TYPES:
            total_name, cap_name = f"pool_total_{gpu_type}", f"pool_max_{gpu_type}"
            if total_name in self.errors or cap_name in self.errors:
                continue
            total, cap = cleaned.get(total_name), cleaned.get(cap_name)
            if total is None and cap is None:
                continue
            if total is None:
                self.add_error(
                    total_name, gettext("Give the pool size, or leave both blank to not offer %s.") % gpu_type
                )
            elif cap is None:
                self.add_error(cap_name, gettext("Give the maximum per application, or leave both blank."))
            else:
                self.pools.append(
                    {"gpu_type": gpu_type, "total_gpu_hours": total, "max_gpu_hours_per_application": cap}
                )
        return cleaned

    def service_arguments(self) -> dict:
        names = (
            "title",
            "description",
            "opens_at",
            "closes_at",
            "eligible_org_types",
            "allocation_start",
            "allocation_end",
        )
        return {name: self.cleaned_data[name] for name in names} | {"pools": self.pools}
