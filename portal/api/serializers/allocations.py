from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.serializers.fields import GpuHoursByType, application_content_field
from portal.api.serializers.strict import StrictInput
from quotas.models import Allocation
from quotas.selectors import allocation_balances


class BalanceOut(serializers.Serializer):
    gpu_type = serializers.CharField()
    awarded_gpu_hours = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    used_gpu_hours = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    held_gpu_hours = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    remaining_gpu_hours = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)


class AllocationOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    organisation = serializers.UUIDField(source="organisation.public_id", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    call = serializers.UUIDField(source="call.public_id", read_only=True)
    application = serializers.UUIDField(source="application.public_id", read_only=True)
    gpu_types = serializers.SerializerMethodField()

    class Meta:
        model = Allocation
        fields = [
            "id",
            "organisation",
            "organisation_name",
            "call",
            "application",
            "project_title",
            "starts_on",
            "ends_on",
            "max_concurrent_gpus",
            "status",
            "gpu_types",
            "created_at",
        ]

    @extend_schema_field(BalanceOut(many=True))
    def get_gpu_types(self, allocation) -> list[dict]:
        return BalanceOut(allocation_balances(allocation), many=True).data


class AllocationStatusIn(StrictInput):
    status = serializers.ChoiceField(choices=["active", "suspended"])
    reason = serializers.CharField(max_length=2000)


class ChangeRequestIn(StrictInput):
    requested_end = application_content_field("requested_end")
    max_concurrent_gpus = application_content_field("max_concurrent_gpus")
    justification = application_content_field("justification")
    gpu_requests = GpuHoursByType(required=False, default=dict)


class SessionSettingsIn(StrictInput):
    """An allocation's session rules (quotas/session_settings.py checks the bounds)."""

    gpu_cap = serializers.IntegerField(help_text="the most GPUs its sessions hold at once (0 to 64; 0: none)")
    idle_minutes = serializers.IntegerField(help_text="minutes a session may sit idle (5 to 1440)")
    managers_may_enter = serializers.BooleanField(help_text="the organisation's managers may enter sessions")


class SessionSettingsOut(serializers.Serializer):
    gpu_cap = serializers.IntegerField(source="session_gpu_cap")
    idle_minutes = serializers.IntegerField(source="session_idle_minutes")
    managers_may_enter = serializers.BooleanField(source="session_managers_may_enter")
