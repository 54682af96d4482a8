from django.utils.translation import gettext as _
from rest_framework import serializers

from portal.applications.fields import CONTENT, Kind

MAX_GPU_HOURS = 100_000_000


class GpuHoursByType(serializers.DictField):
    """{"A100": 2000, "H100": 500}: whole GPU-hours per GPU type."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.IntegerField(min_value=0, max_value=MAX_GPU_HOURS))
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > 32:
            raise serializers.ValidationError(_("At most 32 GPU types."))
        for key in value:
            if not isinstance(key, str) or not 1 <= len(key) <= 16:
                raise serializers.ValidationError(_("GPU type names are 1–16 characters."))
        return value


def application_content_field(name: str, *, required: bool = True) -> serializers.Field:
    """The API's field for the application content field ``name`` (portal.applications.fields). It has no
    label: a label would become a title in the OpenAPI schema."""
    spec = CONTENT[name]
    if spec.kind == Kind.TEXT:
        return serializers.CharField(max_length=spec.max_length, required=required)
    if spec.kind == Kind.CHOICE:
        return serializers.ChoiceField(choices=spec.choices, required=required)
    if spec.kind == Kind.DATE:
        return serializers.DateField(required=required)
    return serializers.IntegerField(min_value=spec.min_value, max_value=spec.max_value, required=required)
