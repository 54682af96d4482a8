"""Applying for GPU-hours, asking to change an allocation, and staff's assignment and decision."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User
from portal.applications.fields import CHANGE_REQUEST_FIELDS, CONTENT, CONTENT_FIELDS, Kind
from portal.web.forms.base import DATE_WIDGET, PortalForm, ReasonField
from portal.web.forms.gpu import GpuHoursMixin


def content_field(name: str, *, label=None, rows: int | None = None) -> forms.Field:
    """The portal's field for the application content field ``name`` (portal.applications.fields);
    ``label`` where this form words it its own way, ``rows`` for a text area."""
    spec = CONTENT[name]
    label = label or spec.label
    if spec.kind == Kind.TEXT:
        widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
        return forms.CharField(label=label, max_length=spec.max_length, widget=widget)
    if spec.kind == Kind.CHOICE:
        return forms.ChoiceField(label=label, choices=spec.choices)
    if spec.kind == Kind.DATE:
        return forms.DateField(label=label, widget=DATE_WIDGET)
    return forms.IntegerField(label=label, min_value=spec.min_value, max_value=spec.max_value)


class ApplicationForm(GpuHoursMixin, PortalForm):
    """A new project's application; without ``organisations`` (editing) the organisation is fixed."""

    sections = ("gpu_requests",)
    content_fields = CONTENT_FIELDS

    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=None, to_field_name="public_id", empty_label=None
    )
    project_title = content_field("project_title")
    summary = content_field("summary", rows=6)
    field = content_field("field")
    requested_start = content_field("requested_start")
    requested_end = content_field("requested_end")
    max_concurrent_gpus = content_field("max_concurrent_gpus")
    justification = content_field("justification", rows=6)
    track = forms.ChoiceField(label=_("Track"), required=False)

    def __init__(self, *args, call, organisations=None, application=None, **kwargs):
        initial = kwargs.setdefault("initial", {})
        gpu_initial = {}
        if application is not None:
            initial.update({name: getattr(application, name) for name in self.content_fields})
            initial["track"] = application.track.code if application.track_id else ""
            gpu_initial = {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()}
        else:
            initial.setdefault("requested_start", call.allocation_start)
            initial.setdefault("requested_end", call.allocation_end)
        super().__init__(*args, **kwargs)
        if organisations is None:
            del self.fields["organisation"]
        else:
            self.fields["organisation"].queryset = organisations
        tracks = list(call.tracks.all())
        if tracks:
            # the track's rules beside its name, so the applicant sees them before choosing
            self.fields["track"].choices = [("", "—")] + [
                (t.code, _("%(name)s: %(least)s–%(most)s GPUs, up to %(days)s days")
                 % {"name": t.name, "least": t.min_gpus, "most": t.max_gpus, "days": t.max_days})
                for t in tracks
            ]  # fmt: skip
        else:
            del self.fields["track"]
        self.add_gpu_fields(
            {pool.gpu_type: pool.max_gpu_hours_per_application for pool in call.pools.all()},
            initial=gpu_initial,
        )

    def clean(self):
        cleaned = super().clean()
        self.clean_gpu_fields(cleaned)
        return cleaned

    def content(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.content_fields}

    def chosen_track(self) -> dict:
        """The ``track`` argument for the services, where the call has tracks."""
        return {"track": self.cleaned_data.get("track") or None} if "track" in self.fields else {}


class ChangeRequestForm(GpuHoursMixin, PortalForm):
    """More GPU-hours, a later end or another concurrency cap for an allocation."""

    sections = ("gpu_requests",)
    content_fields = CHANGE_REQUEST_FIELDS

    requested_end = content_field("requested_end", label=_("New end date"))
    max_concurrent_gpus = content_field("max_concurrent_gpus")
    justification = content_field("justification", label=_("Why you need the change"), rows=5)

    def __init__(self, *args, allocation, application=None, **kwargs):
        initial = kwargs.setdefault("initial", {})
        gpu_initial = {}
        source = application or allocation
        initial.setdefault("requested_end", source.requested_end if application else allocation.ends_on)
        initial.setdefault("max_concurrent_gpus", source.max_concurrent_gpus)
        if application is not None:
            initial.setdefault("justification", application.justification)
            gpu_initial = {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()}
        super().__init__(*args, **kwargs)
        self.add_gpu_fields(
            {pool.gpu_type: pool.max_gpu_hours_per_application for pool in allocation.call.pools.all()},
            initial=gpu_initial,
            hours_label=_("Extra %(gpu_type)s GPU-hours"),
        )

    def clean(self):
        cleaned = super().clean()
        self.clean_gpu_fields(cleaned)
        return cleaned

    def content(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.content_fields}


class WithdrawForm(PortalForm):
    reason = ReasonField(required=False, label=_("Reason (optional)"))


class ReviewerChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.display_name} <{obj.email}>"


class AssignForm(PortalForm):
    reviewers = ReviewerChoiceField(
        label=_("Reviewers"), queryset=None, to_field_name="public_id", widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewers"].queryset = candidates


DECISION_CHOICES = [
    ("approve", _("Approve")),
    ("request_revision", _("Ask for a revision")),
    ("reject", _("Reject")),
]


class DecisionForm(PortalForm):
    """A staff decision; for approval, GPU-hours to award per requested GPU type (blank means none)."""

    sections = ("awarded_gpu_hours",)

    decision = forms.ChoiceField(label=_("Decision"), choices=DECISION_CHOICES, widget=forms.RadioSelect)
    reason = ReasonField(label=_("Reason (the applicant sees it)"))

    def __init__(self, *args, application, **kwargs):
        super().__init__(*args, **kwargs)
        self.requested = {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()}
        for gpu_type, hours in self.requested.items():
            self.fields[f"awarded_{gpu_type}"] = forms.IntegerField(
                label=_("%(gpu_type)s GPU-hours to award") % {"gpu_type": gpu_type},
                required=False,
                min_value=0,
                max_value=hours,
                initial=hours,
            )

    @property
    def award_fields(self) -> list:
        return [self[f"awarded_{gpu_type}"] for gpu_type in self.requested]

    def awarded_gpu_hours(self) -> dict[str, int] | None:
        if self.cleaned_data["decision"] != "approve":
            return None
        return {gpu_type: self.cleaned_data.get(f"awarded_{gpu_type}") or 0 for gpu_type in self.requested}
