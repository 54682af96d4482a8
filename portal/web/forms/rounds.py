"""Staff's round setup (levers, tracks), a line's adjustment, and the owner's acceptance of an agreement."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.organisations.models import OrganisationType
from portal.web.forms.base import PortalForm, ReasonField
from quotas.models import LineDecision

EMPTY_TRACK_ROWS = 2


class LeversForm(PortalForm):
    regional_share = forms.FloatField(
        label=_("Share held for organisations outside the capital area (0–1)"), min_value=0, max_value=1
    )
    regional_bonus = forms.FloatField(
        label=_("Bonus points for organisations outside the capital area"), min_value=0, max_value=5
    )
    max_gpu_hours_per_org = forms.IntegerField(
        label=_("Most GPU-hours per organisation (blank: no cap)"), required=False, min_value=1
    )
    max_awards_per_org = forms.IntegerField(
        label=_("Most awards per organisation (blank: no cap)"), required=False, min_value=1
    )
    agreement_version = forms.CharField(label=_("Agreement version"), required=False, max_length=40)
    agreement_terms = forms.CharField(
        label=_("Agreement terms"), required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 6})
    )
    agreement_days = forms.IntegerField(label=_("Days to accept"), min_value=1, max_value=90)
    reclaim_threshold = forms.FloatField(
        label=_("Reclaim below this share of the plan used (0–1)"), min_value=0, max_value=1
    )

    def __init__(self, *args, levers: dict, **kwargs):
        kwargs.setdefault("initial", {**levers})
        super().__init__(*args, **kwargs)
        for org_type, label in OrganisationType.choices:
            self.fields[f"share_{org_type}"] = forms.FloatField(
                label=_("Share held for: %(sector)s (0–1)") % {"sector": label},
                required=False,
                min_value=0,
                max_value=1,
                initial=levers["sector_shares"].get(org_type),
            )

    def share_fields(self):
        return [self[f"share_{t}"] for t in OrganisationType.values]

    def levers(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.declared_fields}
        data["agreement_terms"] = data["agreement_terms"] or ""
        data["agreement_version"] = data["agreement_version"] or ""
        data["sector_shares"] = {
            t: self.cleaned_data[f"share_{t}"]
            for t in OrganisationType.values
            if self.cleaned_data[f"share_{t}"]
        }
        return data


class TracksForm(PortalForm):
    """The call's tracks as rows (each existing one, and blank rows to add); a row with no code is dropped.
    Stages are written as months joined by '+', e.g. 5+5."""

    sections = ("tracks",)
    service_field_names = {"tracks": "tracks"}

    def __init__(self, *args, tracks, gpu_types, **kwargs):
        super().__init__(*args, **kwargs)
        self.gpu_types = list(gpu_types)
        existing = list(tracks)
        self.row_count = len(existing) + EMPTY_TRACK_ROWS
        for i in range(self.row_count):
            track = existing[i] if i < len(existing) else None
            pools = {p.gpu_type: p.gpu_hours for p in track.pools.all()} if track else {}
            self.fields[f"{i}-code"] = forms.CharField(
                label=_("Code"), required=False, max_length=32, initial=track.code if track else ""
            )
            self.fields[f"{i}-name"] = forms.CharField(
                label=_("Name"), required=False, max_length=200, initial=track.name if track else ""
            )
            for name, label in (
                ("min_gpus", _("Fewest GPUs")),
                ("max_gpus", _("Most GPUs")),
                ("max_days", _("Longest (days)")),
            ):
                self.fields[f"{i}-{name}"] = forms.IntegerField(
                    label=label, required=False, min_value=1, initial=getattr(track, name) if track else None
                )
            self.fields[f"{i}-stages"] = forms.CharField(
                label=_("Stages (months, e.g. 5+5)"),
                required=False,
                max_length=40,
                initial="+".join(map(str, track.stage_months)) if track else "",
            )
            for gpu_type in self.gpu_types:
                self.fields[f"{i}-pool-{gpu_type}"] = forms.IntegerField(
                    label=_("%(gpu_type)s GPU-hours") % {"gpu_type": gpu_type},
                    required=False,
                    min_value=1,
                    initial=pools.get(gpu_type),
                )

        for name, field in self.fields.items():  # the inputs sit in a table: each says which row it is
            row = int(name.split("-", 1)[0]) + 1
            field.widget.attrs["aria-label"] = _("%(label)s, track row %(row)s") % {
                "label": field.label,
                "row": row,
            }

    def rows(self):
        return [
            {
                "fields": [
                    self[f"{i}-{n}"] for n in ("code", "name", "min_gpus", "max_gpus", "max_days", "stages")
                ],
                "pools": [self[f"{i}-pool-{t}"] for t in self.gpu_types],
            }
            for i in range(self.row_count)
        ]

    def clean(self):
        cleaned = super().clean()
        for i in range(self.row_count):
            stages = (cleaned.get(f"{i}-stages") or "").strip()
            try:
                cleaned[f"{i}-stage_months"] = [int(part) for part in stages.split("+")] if stages else []
            except ValueError:
                self.add_error(f"{i}-stages", _("Months joined by +, e.g. 5+5."))
        return cleaned

    def tracks(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {
                "code": data[f"{i}-code"].strip(),
                "name": data[f"{i}-name"],
                "min_gpus": data[f"{i}-min_gpus"],
                "max_gpus": data[f"{i}-max_gpus"],
                "max_days": data[f"{i}-max_days"],
                "stage_months": data.get(f"{i}-stage_months", []),
                "pools": {t: data[f"{i}-pool-{t}"] for t in self.gpu_types if data[f"{i}-pool-{t}"]},
            }
            for i in range(self.row_count)
            if (data.get(f"{i}-code") or "").strip()
        ]


class LineAdjustForm(PortalForm):
    decision = forms.ChoiceField(label=_("Decision"), choices=LineDecision.choices)
    gpu_hours = forms.IntegerField(label=_("GPU-hours"), min_value=0, required=False)
    reason = ReasonField(label=_("Why"), max_length=2000, widget=forms.TextInput())

    def clean_gpu_hours(self):
        return self.cleaned_data["gpu_hours"] or 0


class AcceptAgreementForm(PortalForm):
    terms_version = forms.CharField(widget=forms.HiddenInput(), max_length=40)
    confirm = forms.BooleanField(label=_("I have read the terms and accept them for my organisation."))
