from rest_framework import serializers

from portal.api.serializers.strict import StrictInput
from portal.organisations.models import MembershipRole, Organisation, OrganisationType
from portal.providers.models import Region


class OrganisationOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "org_type",
            "region",
            "registration_number",
            "verified",
            "verified_at",
            "created_at",
            "my_role",
        ]

    def get_my_role(self, organisation) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(organisation.pk)


class OrganisationIn(StrictInput):
    name = serializers.CharField(max_length=200)
    org_type = serializers.ChoiceField(choices=OrganisationType.choices)
    registration_number = serializers.CharField(max_length=40)
    # Optional here (blank: not stated, counted as the capital area); the portal's form requires it.
    region = serializers.ChoiceField(choices=Region.choices, required=False, allow_blank=True, default="")


class VerifyIn(StrictInput):
    verified = serializers.BooleanField(default=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class MemberOut(serializers.Serializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.CharField()
    joined_at = serializers.DateTimeField(source="created_at")


class InvitationOut(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=MembershipRole.choices)
    status = serializers.ChoiceField(choices=["invited"])


class MemberIn(StrictInput):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)
