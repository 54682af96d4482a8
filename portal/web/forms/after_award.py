"""Forms for what follows an award: the mid-term report, staff's evaluation, outcome reports (their
fields from quotas/outcome_fields.py), misuse reports and staff's decision on a reclaim."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.web.forms.base import PortalForm, ReasonField
from quotas.models import AllocationStage, MisuseKind, MisuseReport
from quotas.outcome_fields import OUTCOME_FIELDS, OutcomeKind


class StageReportForm(PortalForm):
    number = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    report = forms.CharField(
        label=_("Mid-term report"),
        max_length=AllocationStage._meta.get_field("report").max_length,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What the work so far achieved and what the next stage's GPU-hours are for."),
    )


class StageEvaluationForm(PortalForm):
    number = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("release", _("Release the stage")),
            ("return", _("Return it and later stages to the pool")),
        ],
        widget=forms.RadioSelect,
    )
    evaluation = ReasonField(
        label=_("Evaluation (the organisation sees it)"),
        max_length=AllocationStage._meta.get_field("evaluation").max_length,
    )


def _outcome_form_field(field) -> forms.Field:
    if field.kind == OutcomeKind.FLAG:
        return forms.TypedChoiceField(
            label=field.label,
            choices=[("yes", _("Yes")), ("no", _("No"))],
            coerce=lambda value: value == "yes",
            widget=forms.RadioSelect,
        )
    if field.kind == OutcomeKind.TEXT:
        return forms.CharField(
            label=field.label,
            required=False,
            max_length=field.max_value,
            widget=forms.Textarea(attrs={"rows": 3}),
        )
    return forms.IntegerField(
        label=field.label,
        required=field.required,
        min_value=field.min_value,
        max_value=field.max_value,
        initial=None if field.required else 0,
    )


class OutcomeForm(PortalForm):
    stage = forms.TypedChoiceField(label=_("Reporting on"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args, stage_numbers: list[int] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", _("The award's end"))] + [
            (str(number), _("The end of stage %(number)s") % {"number": number}) for number in stage_numbers
        ]
        for field in OUTCOME_FIELDS:
            self.fields[field.name] = _outcome_form_field(field)

    def values(self) -> dict:
        return {field.name: self.cleaned_data.get(field.name) for field in OUTCOME_FIELDS}


class MisuseReportForm(PortalForm):
    kind = forms.ChoiceField(label=_("Kind of misuse"), choices=MisuseKind.choices)
    description = forms.CharField(
        label=_("What was reported (staff only)"),
        max_length=MisuseReport._meta.get_field("description").max_length,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class ReclaimDecisionForm(PortalForm):
    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("dismiss", _("Dismiss"))])
    reason = ReasonField(required=False, label=_("Reason (needed to dismiss)"))
