from rest_framework import serializers

from portal.accounts.models import ApiKey
from portal.api.serializers.strict import StrictInput
from portal.audit.models import AuditEvent


class MembershipOut(serializers.Serializer):
    organisation = serializers.UUIDField(source="organisation.public_id")
    organisation_name = serializers.CharField(source="organisation.name")
    role = serializers.CharField()


class MeOut(serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    is_reviewer = serializers.BooleanField()
    memberships = MembershipOut(many=True)


class ApiKeyOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "read_only", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedOut(ApiKeyOut):
    key = serializers.CharField(help_text="The key itself. Shown only in this response; store it now.")

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "key"]


class ApiKeyIn(StrictInput):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    read_only = serializers.BooleanField(default=False)


class AuditEventOut(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", allow_null=True, read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "created_at",
            "actor",
            "target_type",
            "target_id",
            "action",
            "from_state",
            "to_state",
            "reason",
            "data",
        ]


class AuditQueryIn(serializers.Serializer):
    target_type = serializers.ChoiceField(
        choices=["application", "allocation", "organisation", "call", "api_key", "user", "login"]
    )
    target_id = serializers.UUIDField()
