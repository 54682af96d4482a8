"""A call's round through the API: its setup (tracks, levers), its lines, and an award's agreement."""

from rest_framework import serializers

from portal.api.serializers.strict import StrictInput
from quotas.models import LineDecision


class TrackPoolOut(serializers.Serializer):
    gpu_type = serializers.CharField()
    gpu_hours = serializers.IntegerField()


class TrackOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    min_gpus = serializers.IntegerField()
    max_gpus = serializers.IntegerField()
    max_days = serializers.IntegerField()
    stage_months = serializers.ListField(child=serializers.IntegerField())
    pools = TrackPoolOut(many=True)


class TracksIn(StrictInput):
    tracks = serializers.ListField(
        child=serializers.DictField(),
        max_length=20,
        help_text="each: code, name, min_gpus, max_gpus, max_days, stage_months (e.g. [5, 5]), "
        "pools (GPU type → GPU-hours)",
    )


class LeversOut(serializers.Serializer):
    sector_shares = serializers.DictField(child=serializers.FloatField(), help_text="organisation type → 0–1")
    regional_share = serializers.FloatField()
    regional_bonus = serializers.FloatField()
    max_gpu_hours_per_org = serializers.IntegerField(allow_null=True)
    max_awards_per_org = serializers.IntegerField(allow_null=True)
    agreement_terms = serializers.CharField()
    agreement_version = serializers.CharField()
    agreement_days = serializers.IntegerField()
    reclaim_threshold = serializers.FloatField()


class LeversIn(StrictInput):
    sector_shares = serializers.DictField(child=serializers.FloatField(), required=False)
    regional_share = serializers.FloatField(required=False)
    regional_bonus = serializers.FloatField(required=False)
    max_gpu_hours_per_org = serializers.IntegerField(required=False, allow_null=True)
    max_awards_per_org = serializers.IntegerField(required=False, allow_null=True)
    agreement_terms = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    agreement_version = serializers.CharField(required=False, allow_blank=True, max_length=40)
    agreement_days = serializers.IntegerField(required=False)
    reclaim_threshold = serializers.FloatField(required=False)


class SetupOut(serializers.Serializer):
    levers = LeversOut()
    tracks = TrackOut(many=True)


class LineOut(serializers.Serializer):
    position = serializers.IntegerField()
    application = serializers.UUIDField(source="application.public_id")
    project_title = serializers.CharField(source="application.project_title")
    organisation = serializers.CharField(source="application.organisation.name")
    organisation_type = serializers.CharField(source="application.organisation.org_type")
    region = serializers.CharField(source="application.organisation.region")
    track = serializers.CharField(source="application.track.code", allow_null=True, default=None)
    gpu_type = serializers.CharField()
    score = serializers.FloatField()
    asked_gpu_hours = serializers.IntegerField()
    proposed_decision = serializers.CharField()
    proposed_gpu_hours = serializers.IntegerField()
    reason = serializers.CharField(
        help_text="awarded, pool_full, held_for_shares, org_hours_cap, org_awards_cap, no_pool, "
        "organisation_unverified, no_track (docs/programme.md)"
    )
    params = serializers.DictField(help_text="the figures behind the reason (rank, hours left, cap, …)")
    decision = serializers.CharField()
    gpu_hours = serializers.IntegerField()
    adjusted = serializers.SerializerMethodField()
    adjustment_reason = serializers.CharField()
    outcome = serializers.CharField(
        help_text="after approval: awarded, waitlisted, or offered (from the waitlist)"
    )

    def get_adjusted(self, line) -> bool:
        return line.adjusted_at is not None


class RoundOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    state = serializers.CharField()
    inputs_digest = serializers.CharField(
        help_text="SHA-256 of the inputs: the same inputs, the same proposal"
    )
    proposed_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    lines = LineOut(many=True, source="ordered_lines")


class LineAdjustIn(StrictInput):
    decision = serializers.ChoiceField(choices=LineDecision.choices)
    gpu_hours = serializers.IntegerField(required=False, default=0, min_value=0)
    reason = serializers.CharField(max_length=2000)


class AgreementOut(serializers.Serializer):
    allocation = serializers.UUIDField(source="allocation.public_id")
    terms = serializers.CharField(source="allocation.call.agreement_terms")
    terms_version = serializers.CharField()
    terms_sha256 = serializers.CharField()
    deadline = serializers.DateTimeField()
    state = serializers.CharField()
    accepted_by = serializers.CharField(source="accepted_by.display_name", allow_null=True, default=None)
    accepted_at = serializers.DateTimeField(allow_null=True)


class AcceptIn(StrictInput):
    terms_version = serializers.CharField(
        max_length=40, help_text="the version of the terms read and accepted"
    )
