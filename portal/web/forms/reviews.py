"""A reviewer's scores and comments."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.applications.models import CRITERIA
from portal.web.forms.base import PortalForm

SCORE_CHOICES = [(score, str(score)) for score in range(1, 6)]
CRITERIA_LABELS = {
    "technical_merit": _("Technical merit"),
    "feasibility": _("Feasibility"),
    "impact": _("Impact"),
    "need_for_public_compute": _("Need for public compute"),
}


class ReviewForm(PortalForm):
    public_comment = forms.CharField(
        label=_("Comment for the applicant"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    private_comment = forms.CharField(
        label=_("Comment for staff only"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, review=None, **kwargs):
        if review is not None and review.submitted_at is not None:
            initial = kwargs.setdefault("initial", {})
            for name in (*CRITERIA, "public_comment", "private_comment"):
                initial.setdefault(name, getattr(review, name))
        super().__init__(*args, **kwargs)
        criteria = {
            name: forms.TypedChoiceField(
                label=CRITERIA_LABELS[name],
                choices=SCORE_CHOICES,
                coerce=int,
                widget=forms.RadioSelect(attrs={"class": "score"}),
                help_text=_("1 = poor, 5 = excellent"),
            )
            for name in CRITERIA
        }
        # Scores first, comments after.
        self.fields = {**criteria, **self.fields}

    @property
    def score_fields(self) -> list:
        return [self[name] for name in CRITERIA]
