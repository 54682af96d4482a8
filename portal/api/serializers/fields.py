from rest_framework import serializers

MAX_GPU_HOURS = 100_000_000


class GpuHoursByType(serializers.DictField):
    """{"A100": 2000, "H100": 500}: whole GPU-hours per GPU type."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.IntegerField(min_value=0, max_value=MAX_GPU_HOURS))
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > 32:
            raise serializers.ValidationError("At most 32 GPU types.")
        for key in value:
            if not isinstance(key, str) or not 1 <= len(key) <= 16:
                raise serializers.ValidationError("GPU type names are 1–16 characters.")
        return value


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only. DRF's BooleanField also takes 0, 1, "yes", "off" and the like; for flags
    such as an API key's read_only a mistyped value must be refused, not guessed."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data
