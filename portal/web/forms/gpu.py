"""GPU-hour inputs per GPU type, given directly or as GPUs × months."""

from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.applications.models import MAX_CONCURRENT_GPUS

GPU_INPUT_PREFIXES = ("gpu_hours_", "gpus_", "months_")
MAX_MONTHS = Decimal("120")


def gpu_hours_for(gpus: int, months: Decimal) -> int:
    """GPU-hours meant by ``gpus`` GPUs for ``months`` months, rounded to the nearest hour."""
    hours = Decimal(gpus) * months * settings.GPUGRANT_HOURS_PER_MONTH
    return int(hours.to_integral_value(rounding=ROUND_HALF_UP))


class GpuRow:
    """The three inputs for one GPU type, for templates."""

    def __init__(self, form: "GpuHoursMixin", gpu_type: str, cap: int):
        self.gpu_type = gpu_type
        self.cap = cap
        self.hours = form[f"gpu_hours_{gpu_type}"]
        self.gpus = form[f"gpus_{gpu_type}"]
        self.months = form[f"months_{gpu_type}"]
        self.meant_gpu_hours = form.meant_gpu_hours.get(gpu_type)


class GpuHoursMixin:
    """Adds, per GPU type, a GPU-hours field and optional GPUs and months fields.

    After cleaning, ``gpu_requests`` maps GPU type → GPU-hours (only the types given), and
    ``meant_gpu_hours`` the hours that GPUs × months came to, so the page can show them.
    """

    gpu_section = "gpu_requests"

    @property
    def hours_per_month(self) -> int:
        return settings.GPUGRANT_HOURS_PER_MONTH

    def add_gpu_fields(
        self, caps: dict[str, int], initial: dict[str, int] | None = None, hours_label=None
    ) -> None:
        self.gpu_caps = dict(sorted(caps.items()))
        self.gpu_requests: dict[str, int] = {}
        self.meant_gpu_hours: dict[str, int] = {}
        initial = initial or {}
        for gpu_type, cap in self.gpu_caps.items():
            labels = {
                "hours": (hours_label or _("%(gpu_type)s GPU-hours")) % {"gpu_type": gpu_type},
                "gpus": _("%(gpu_type)s GPUs") % {"gpu_type": gpu_type},
                "months": _("%(gpu_type)s months") % {"gpu_type": gpu_type},
            }
            # The inputs sit in a table without visible labels, so each carries its own.
            self.fields[f"gpu_hours_{gpu_type}"] = forms.IntegerField(
                label=labels["hours"],
                required=False,
                min_value=0,
                max_value=cap,
                initial=initial.get(gpu_type),
                widget=forms.NumberInput(attrs={"aria-label": labels["hours"]}),
            )
            self.fields[f"gpus_{gpu_type}"] = forms.IntegerField(
                label=labels["gpus"],
                required=False,
                min_value=1,
                max_value=MAX_CONCURRENT_GPUS,
                widget=forms.NumberInput(attrs={"aria-label": labels["gpus"]}),
            )
            self.fields[f"months_{gpu_type}"] = forms.DecimalField(
                label=labels["months"],
                required=False,
                min_value=Decimal("0.1"),
                max_value=MAX_MONTHS,
                max_digits=4,
                decimal_places=1,
                widget=forms.NumberInput(attrs={"aria-label": labels["months"], "step": "0.1"}),
            )

    @property
    def gpu_rows(self) -> list[GpuRow]:
        return [GpuRow(self, gpu_type, cap) for gpu_type, cap in self.gpu_caps.items()]

    def clean_gpu_fields(self, cleaned: dict) -> None:
        unknown = {
            key.split("_", 2)[-1] if key.startswith("gpu_hours_") else key.split("_", 1)[1]
            for key, value in self.data.items()
            if key.startswith(GPU_INPUT_PREFIXES) and key not in self.fields and str(value).strip()
        }
        for gpu_type in sorted(unknown):
            self.add_section_error(
                self.gpu_section,
                gettext("%(gpu_type)s: this call does not offer that GPU type (offered: %(offered)s).")
                % {"gpu_type": gpu_type, "offered": ", ".join(self.gpu_caps) or gettext("none")},
            )
        for gpu_type, cap in self.gpu_caps.items():
            hours_name, gpus_name, months_name = (f"{p}{gpu_type}" for p in GPU_INPUT_PREFIXES)
            if any(name in self.errors for name in (hours_name, gpus_name, months_name)):
                continue
            hours, gpus, months = cleaned.get(hours_name), cleaned.get(gpus_name), cleaned.get(months_name)
            if hours is None and (gpus is not None or months is not None):
                if gpus is None:
                    self.add_error(gpus_name, gettext("Give the number of GPUs as well as the months."))
                    continue
                if months is None:
                    self.add_error(months_name, gettext("Give the months as well as the number of GPUs."))
                    continue
                hours = gpu_hours_for(gpus, months)
                self.meant_gpu_hours[gpu_type] = hours
                if hours > cap:
                    message = gettext(
                        "%(gpus)s GPUs × %(months)s months is %(hours)s GPU-hours; at most %(cap)s."
                    )
                    values = {"gpus": gpus, "months": months, "hours": f"{hours:,}", "cap": f"{cap:,}"}
                    self.add_error(gpus_name, message % values)
                    continue
                cleaned[hours_name] = hours
            if hours is not None:
                self.gpu_requests[gpu_type] = hours
