"""Adding and editing a catalogue environment (staff)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.environments import services as environment_services
from portal.web.forms.base import PortalForm

# The active flag has its own button on the list, not a checkbox here.
FIELDS = tuple(field for field in environment_services.FIELDS if field != "active")


class EnvironmentForm(PortalForm):
    """Only parses; environment_create/update decide what is valid (image pinning included)."""

    name = forms.CharField(
        label=_("Short name"),
        max_length=64,
        help_text=_("What users write in a job, e.g. pytorch-2.5-cuda12.4. Letters, digits, . - _"),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=100)
    for_training = forms.BooleanField(label=_("For training jobs"), required=False, initial=True)
    for_inference = forms.BooleanField(label=_("For inference jobs"), required=False)
    for_sessions = forms.BooleanField(label=_("For interactive sessions (has JupyterLab)"), required=False)
    image = forms.CharField(
        label=_("Container image"),
        max_length=300,
        help_text=_("Pinned by a version tag or a sha256 digest, e.g. nvcr.io/nvidia/pytorch:24.10-py3"),
    )
    cuda_version = forms.CharField(label=_("CUDA version"), max_length=16)
    description = forms.CharField(
        label=_("Description (English)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    description_ko = forms.CharField(
        label=_("Description (Korean)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, environment=None, **kwargs):
        if environment is not None:
            kwargs.setdefault("initial", {field: getattr(environment, field) for field in FIELDS})
        super().__init__(*args, **kwargs)

    def service_arguments(self) -> dict:
        return {field: self.cleaned_data[field] for field in FIELDS}
