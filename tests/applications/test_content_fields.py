"""An application's content fields are defined once (portal.applications.fields); the API's serializers, the
portal's forms, the model and the services' validation all follow that definition."""

import pytest
from django import forms
from rest_framework import serializers

from portal.api.serializers.allocations import ChangeRequestIn
from portal.api.serializers.applications import ApplicationIn, ApplicationPatch
from portal.applications.fields import CHANGE_REQUEST_FIELDS, CONTENT, CONTENT_FIELDS, Kind
from portal.applications.models import Application
from portal.web.forms.applications import ApplicationForm, ChangeRequestForm

API_TYPES = {
    Kind.TEXT: serializers.CharField,
    Kind.CHOICE: serializers.ChoiceField,
    Kind.DATE: serializers.DateField,
    Kind.COUNT: serializers.IntegerField,
}
FORM_TYPES = {
    Kind.TEXT: forms.CharField,
    Kind.CHOICE: forms.ChoiceField,
    Kind.DATE: forms.DateField,
    Kind.COUNT: forms.IntegerField,
}


def choices(pairs) -> list | None:
    """(value, label) pairs as text; DRF keeps a dict, Django forms a list."""
    if pairs is None:
        return None
    return [(value, str(label)) for value, label in (pairs.items() if isinstance(pairs, dict) else pairs)]


def limits(field) -> dict:
    return {
        "max_length": getattr(field, "max_length", None),
        "choices": choices(getattr(field, "choices", None)),
        "min_value": getattr(field, "min_value", None),
        "max_value": getattr(field, "max_value", None),
    }


def expected(name) -> dict:
    spec = CONTENT[name]
    return {
        "max_length": spec.max_length,
        "choices": choices(spec.choices),
        "min_value": spec.min_value,
        "max_value": spec.max_value,
    }


@pytest.mark.parametrize(
    ("serializer", "names", "required"),
    [
        (ApplicationIn, CONTENT_FIELDS, True),
        (ApplicationPatch, CONTENT_FIELDS, False),
        (ChangeRequestIn, CHANGE_REQUEST_FIELDS, True),
    ],
)
def test_the_api_serializers_follow_the_definition(serializer, names, required):
    fields = serializer().fields
    assert [name for name in fields if name in CONTENT] == list(names)
    for name in names:
        assert type(fields[name]) is API_TYPES[CONTENT[name].kind], name
        assert limits(fields[name]) == expected(name), name
        assert fields[name].required is required and not getattr(fields[name], "allow_blank", False)


@pytest.mark.parametrize(
    ("form", "names"), [(ApplicationForm, CONTENT_FIELDS), (ChangeRequestForm, CHANGE_REQUEST_FIELDS)]
)
def test_the_portal_forms_follow_the_definition(form, names):
    fields = form.base_fields
    assert [name for name in fields if name in CONTENT] == list(names) and form.content_fields == names
    for name in names:
        assert type(fields[name]) is FORM_TYPES[CONTENT[name].kind], name
        assert limits(fields[name]) == expected(name), name
        assert fields[name].required


def test_the_new_application_form_shows_the_defined_labels():
    assert {name: ApplicationForm.base_fields[name].label for name in CONTENT_FIELDS} == {
        name: spec.label for name, spec in CONTENT.items()
    }


def test_the_model_stores_what_the_definition_allows():
    for name, spec in CONTENT.items():
        column = Application._meta.get_field(name)
        if spec.kind == Kind.TEXT:
            assert column.max_length == spec.max_length, name
        if spec.kind == Kind.CHOICE:
            assert column.choices == spec.choices
        if spec.kind == Kind.COUNT:
            bounds = {validator.limit_value for validator in column.validators}
            assert {spec.min_value, spec.max_value} <= bounds
