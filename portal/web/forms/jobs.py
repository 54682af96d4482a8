"""Submitting a job, and filtering the job list.

The submit form only turns the browser's text into the values the service takes (a command list, an
environment mapping, whole numbers); whether those values make a valid job is decided by
scheduler.services.job_submit, exactly as for the REST API, and its errors are shown per field.
"""

import json
import uuid

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.environments.selectors import environments_active
from portal.errors import ServiceError
from portal.jsonlimits import JsonTooDeep, check_json_depth
from portal.providers.models import Region
from portal.providers.selectors import providers_public
from portal.web.forms.base import PortalForm
from portal.web.templatetags.portal_tags import JOB_STATE_LABELS
from scheduler.job_fields import (
    DEFAULT_PODS,
    DEFAULT_PRIORITY,
    IMAGE_MAX_LENGTH,
    MAX_GPUS_PER_POD,
    MAX_PODS,
    MIN_RUNTIME_MINUTES,
    NAME_MAX_LENGTH,
    SUBMITTED_FIELDS,
)
from scheduler.models import BATCH_KINDS, JobKind, JobPriority

# A service error without field details, by code → the field it concerns.
FIELD_FOR_CODE = {"budget_exceeded": "max_runtime_minutes", "gpu_type_not_awarded": "gpu_type"}


def awarded_types(allocation) -> list[str]:
    return sorted(budget.gpu_type for budget in allocation.budgets.all())


class AllocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, allocation) -> str:
        types = ", ".join(awarded_types(allocation)) or gettext("no GPU types")
        return f"{allocation.project_title} — {allocation.organisation.name} ({types})"


def parse_command(text: str) -> list:
    """A JSON list (when the text starts with "["), or one argument per non-blank line."""
    text = text.strip()
    if text.startswith("["):
        try:
            check_json_depth(text)  # before json recurses into it
        except JsonTooDeep as exc:
            raise ValidationError(str(exc)) from None
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValidationError(
                gettext("This looks like a JSON list but is not valid JSON: %(error)s") % {"error": exc}
            ) from exc
        if not isinstance(value, list):
            raise ValidationError(gettext("Give a JSON list of strings."))
        return value
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_environment(text: str) -> dict:
    """KEY=value, one per non-blank line; the value is taken as written after the first "="."""
    environment: dict[str, str] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(gettext("Line %(number)d: write KEY=value.") % {"number": number})
        elif key in environment:
            problems.append(
                gettext("Line %(number)d: %(key)s is given twice.") % {"number": number, "key": key}
            )
        else:
            environment[key] = value
    if problems:
        raise ValidationError(problems)
    return environment


class JobForm(PortalForm):
    """A new job. Choices: the user's active allocations, the GPU types they were awarded."""

    allocation = AllocationChoiceField(
        label=_("Allocation"), queryset=None, to_field_name="public_id", empty_label=_("Choose an allocation")
    )
    # Bounds are the browser's hints only (widget attributes): the submit service checks them, and its
    # messages are the ones shown.
    name = forms.CharField(
        label=_("Name"),
        widget=forms.TextInput(attrs={"maxlength": NAME_MAX_LENGTH}),
        help_text=_("Letters, digits, spaces, dots, dashes or underscores."),
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(k.value, k.label) for k in BATCH_KINDS],  # a session is launched as one (docs/sessions.md)
        initial=JobKind.TRAINING,
        widget=forms.RadioSelect,
    )
    environment_name = forms.CharField(
        label=_("Software environment"),
        required=False,
        widget=forms.Select,
        help_text=_("A container from the programme's catalogue, with its framework and CUDA version."),
    )
    image = forms.CharField(
        label=_("Your own container image"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": IMAGE_MAX_LENGTH}),
        help_text=_(
            "Instead of an environment, only where the allocation allows custom images; "
            "for example registry.example.kr/team/train:1.2"
        ),
    )
    command = forms.CharField(
        label=_("Command"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_(
            'One argument per line (python, train.py, --epochs, 3), or a JSON list: ["python", "train.py"].'
        ),
    )
    environment = forms.CharField(
        label=_("Environment variables"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("KEY=value, one per line. Optional."),
    )
    gpu_type = forms.CharField(label=_("GPU type"), widget=forms.Select)
    gpus_per_pod = forms.IntegerField(
        label=_("GPUs per pod"),
        initial=1,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_GPUS_PER_POD}),
    )
    pods = forms.IntegerField(
        label=_("Pods"),
        initial=DEFAULT_PODS,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_PODS}),
        help_text=_("More than one pod runs a distributed job across nodes."),
    )
    max_runtime_minutes = forms.IntegerField(
        label=_("Maximum run time (minutes)"),
        help_text=_(
            "The job is stopped after this long. Its GPU-hours are held on the allocation until it ends."
        ),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=JobPriority.choices, initial=DEFAULT_PRIORITY)
    provider = forms.CharField(
        label=_("Provider"),
        required=False,
        widget=forms.Select,
        help_text=_(
            "Run only on this provider's clusters. Optional; never wider than the allocation allows."
        ),
    )
    region = forms.ChoiceField(
        label=_("Region"),
        required=False,
        choices=[("", _("Any region"))] + list(Region.choices),
        help_text=_("Run only in this region. Optional; never wider than the allocation allows."),
    )
    submission_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, allocations, preselected=None, **kwargs):
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("submission_key", uuid.uuid4().hex)
        listed = list(allocations)
        if preselected is None and len(listed) == 1:
            preselected = listed[0]
        if preselected is not None:
            initial.setdefault("allocation", preselected.public_id)
        super().__init__(*args, **kwargs)
        self.fields["allocation"].queryset = allocations
        self.fields["max_runtime_minutes"].widget.attrs.update(
            {"min": MIN_RUNTIME_MINUTES, "max": settings.GPUGRANT_MAX_RUNTIME_MINUTES}
        )
        # Every type awarded to any of the user's allocations (each allocation's label lists its own);
        # the service checks the chosen type against the chosen allocation.
        types = sorted({gpu_type for allocation in listed for gpu_type in awarded_types(allocation)})
        self.fields["gpu_type"].widget.choices = [(gpu_type, gpu_type) for gpu_type in types]
        # Any name parses; the service says whether it is active and suits the job's kind.
        self.fields["environment_name"].widget.choices = [("", gettext("None: use my own image"))] + [
            (e.name, f"{e.display_name} — {e.name} ({', '.join(str(JobKind(k).label) for k in e.kinds)})")
            for e in environments_active()
        ]
        # Any name parses; the service says whether it exists and suits the allocation's pins.
        self.fields["provider"].widget.choices = [("", gettext("Any provider"))] + [
            (p.name, p.name) for p in providers_public()
        ]
        # Any priority parses; the service refuses "high" from non-staff. Only staff are offered it.
        if not user.is_staff:
            self.fields["priority"].widget.choices = [
                choice for choice in JobPriority.choices if choice[0] != JobPriority.HIGH
            ]

    def clean_command(self) -> list:
        return parse_command(self.cleaned_data["command"])

    def clean_environment(self) -> dict:
        return parse_environment(self.cleaned_data["environment"])

    def clean_submission_key(self) -> str:
        """The key that makes a resent form (refresh, double click) return the job it already created."""
        key = self.cleaned_data["submission_key"]
        try:
            return uuid.UUID(key).hex
        except ValueError:
            return uuid.uuid4().hex  # missing or mangled: submit without the protection rather than fail

    def job_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in SUBMITTED_FIELDS}

    def add_service_error(self, error: ServiceError) -> None:
        if not error.fields and error.code in FIELD_FOR_CODE:
            error = type(error)(
                error.message, fields={FIELD_FOR_CODE[error.code]: [error.message]}, code=error.code
            )
        super().add_service_error(error)

    def renew_submission_key(self) -> None:
        """Give the re-rendered form a fresh key, so the next press submits a new job."""
        self.data = self.data.copy()
        self.data["submission_key"] = uuid.uuid4().hex


STATE_CHOICES = [("", _("Any state")), *JOB_STATE_LABELS.items()]
KIND_CHOICES = [("", _("Any kind")), *JobKind.choices]


class JobFilterForm(forms.Form):
    """The job list's filters (GET). Unknown values are form errors, shown above the list."""

    state = forms.ChoiceField(label=_("State"), choices=STATE_CHOICES, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=KIND_CHOICES, required=False)
    allocation = AllocationChoiceField(
        label=_("Allocation"),
        queryset=None,
        to_field_name="public_id",
        required=False,
        empty_label=_("Any allocation"),
    )

    def __init__(self, *args, allocations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allocation"].queryset = allocations

    def apply(self, jobs):
        data = self.cleaned_data
        if data.get("state"):
            jobs = jobs.filter(state=data["state"])
        if data.get("kind"):
            jobs = jobs.filter(kind=data["kind"])
        if data.get("allocation"):
            jobs = jobs.filter(allocation=data["allocation"])
        return jobs
