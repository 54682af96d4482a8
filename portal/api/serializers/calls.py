from django.conf import settings
from rest_framework import serializers

from portal.api.serializers.rounds import TrackOut
from portal.api.serializers.strict import StrictInput
from portal.calls.models import Call
from portal.organisations.models import OrganisationType


class PoolOut(serializers.Serializer):
    gpu_type = serializers.CharField()
    total_gpu_hours = serializers.IntegerField()
    awarded_gpu_hours = serializers.IntegerField()
    available_gpu_hours = serializers.IntegerField()
    max_gpu_hours_per_application = serializers.IntegerField()


class CallOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True)
    eligible_org_types = serializers.ListField(child=serializers.CharField())
    pools = PoolOut(many=True, read_only=True)
    tracks = TrackOut(many=True, read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "title",
            "description",
            "status",
            "opens_at",
            "closes_at",
            "eligible_org_types",
            "allocation_start",
            "allocation_end",
            "pools",
            "tracks",
        ]


class PoolIn(StrictInput):
    gpu_type = serializers.ChoiceField(choices=[(t, t) for t in settings.GPUGRANT_GPU_TYPES])
    total_gpu_hours = serializers.IntegerField(min_value=1, max_value=100_000_000)
    max_gpu_hours_per_application = serializers.IntegerField(min_value=1, max_value=100_000_000)


class CallIn(StrictInput):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    eligible_org_types = serializers.ListField(
        child=serializers.ChoiceField(choices=OrganisationType.choices), min_length=1, max_length=10
    )
    allocation_start = serializers.DateField()
    allocation_end = serializers.DateField()
    pools = PoolIn(many=True)


class RankedOut(serializers.Serializer):
    position = serializers.IntegerField()
    application = serializers.UUIDField(source="application.public_id")
    project_title = serializers.CharField(source="application.project_title")
    organisation = serializers.CharField(source="application.organisation.name")
    organisation_type = serializers.CharField(source="application.organisation.org_type")
    state = serializers.CharField(source="application.state")
    score = serializers.FloatField(
        help_text="each reviewer's scores normalised to the panel's scale, weighted"
    )
    raw = serializers.FloatField(help_text="the same weights on the scores as given")
    reviewers = serializers.IntegerField()
    bonus = serializers.FloatField(help_text="regional bonus points included in the score")
    track = serializers.CharField(source="application.track.code", allow_null=True, default=None)
    track_position = serializers.IntegerField(help_text="its place in its track's ranked list")


class RankingOut(serializers.Serializer):
    weights = serializers.DictField(child=serializers.FloatField())
    ranking = RankedOut(many=True)


class WeightsIn(serializers.Serializer):
    weights = serializers.DictField(help_text="criterion → weight (0–100); a criterion left out weighs 1")
