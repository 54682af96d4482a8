"""What every portal form shares: showing a service's errors next to the fields they concern."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.errors import ServiceError

DATE_WIDGET = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
DATETIME_WIDGET = forms.DateTimeInput(format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"})
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class PortalForm(forms.Form):
    """A form whose errors can come from a service as well as from parsing.

    ``sections`` name groups of fields (e.g. ``gpu_requests``) whose errors a service reports as a
    whole; they are shown at the top of that group. ``service_field_names`` maps a service's field
    name onto this form's field name where the two differ.
    """

    sections: tuple[str, ...] = ()
    service_field_names: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.section_errors: dict[str, list[str]] = {name: [] for name in self.sections}

    def add_section_error(self, section: str, message: str) -> None:
        self.section_errors[section].append(message)

    def has_section_errors(self) -> bool:
        return any(self.section_errors.values())

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return valid and not self.has_section_errors()

    def add_service_error(self, error: ServiceError) -> None:
        """Put each of the service's messages next to its field, and its summary at the top."""
        for service_field, messages in error.fields.items():
            name = self.service_field_names.get(service_field, service_field)
            for message in messages:
                if name in self.section_errors:
                    self.add_section_error(name, message)
                elif name in self.fields:
                    self.add_error(name, message)
                else:
                    self.add_error(None, message)
        self.add_error(None, error.message)


class ReasonField(forms.CharField):
    def __init__(self, *, required: bool = True, max_length: int = 2000, **kwargs):
        kwargs.setdefault("label", _("Reason"))
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(required=required, max_length=max_length, **kwargs)
