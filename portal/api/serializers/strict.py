"""Input serializers that take each JSON value only in the type the schema promises.

DRF coerces: "max_concurrent_gpus": "8" becomes 8, "name": 0 becomes "0", "read_only": "no" becomes
False. A client that sends the wrong type has a bug, and for flags such as an API key's read_only a
guess can be a security mistake; so the API refuses the wrong JSON type with a field error, as the
OpenAPI schema says it will (the fuzz test's negative_data_rejection check holds us to it).
"""

from collections.abc import Mapping

from django.utils.translation import gettext as _
from rest_framework import fields, serializers

STRINGS = (
    fields.CharField,
    fields.UUIDField,
    fields.DateField,
    fields.DateTimeField,
    fields.TimeField,
    fields.DurationField,
)


def json_type_problem(field: fields.Field, value) -> str | None:
    """Why ``value`` is the wrong JSON type for ``field``, or None."""
    if value is None:
        return None  # the field's own allow_null rule answers
    if isinstance(field, fields.BooleanField):
        return None if isinstance(value, bool) else _("Must be true or false.")
    if isinstance(field, fields.IntegerField):
        # JSON Schema counts 10.0 as an integer; so do we.
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        return None if whole and not isinstance(value, bool) else _("Must be a whole number.")
    if isinstance(field, fields.FloatField | fields.DecimalField):
        return (
            None if isinstance(value, int | float) and not isinstance(value, bool) else _("Must be a number.")
        )
    if isinstance(field, fields.MultipleChoiceField | fields.ListField):
        if not isinstance(value, list):
            return _("Must be a list.")
        child = getattr(field, "child", None)
        problems = [json_type_problem(child, item) for item in value] if child is not None else []
        return next((problem for problem in problems if problem), None)
    if isinstance(field, fields.DictField):
        if not isinstance(value, dict):
            return _("Must be an object.")
        problems = [json_type_problem(field.child, item) for item in value.values()]
        return next((problem for problem in problems if problem), None)
    if isinstance(field, fields.ChoiceField) and all(isinstance(key, str) for key in field.choices):
        return None if isinstance(value, str) else _("Must be a string.")
    if isinstance(field, STRINGS):
        return None if isinstance(value, str) else _("Must be a string.")
    return None


class StrictInput(serializers.Serializer):
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for field in self._writable_fields:
                if field.field_name in data:
                    problem = json_type_problem(field, data[field.field_name])
                    if problem:
                        errors[field.field_name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
