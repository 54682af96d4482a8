from rest_framework import serializers

from portal.api.serializers.fields import GpuHoursByType, application_content_field
from portal.api.serializers.strict import StrictInput
from portal.applications.models import Application, Review
from portal.applications.states import allowed_actions


class GpuRequestOut(serializers.Serializer):
    gpu_type = serializers.CharField()
    gpu_hours = serializers.IntegerField()
    awarded_gpu_hours = serializers.IntegerField(allow_null=True)


class ApplicationOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    call = serializers.UUIDField(source="call.public_id", read_only=True)
    organisation = serializers.UUIDField(source="organisation.public_id", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    allocation = serializers.UUIDField(source="allocation.public_id", read_only=True, allow_null=True)
    gpu_requests = GpuRequestOut(many=True, read_only=True)
    track = serializers.CharField(source="track.code", read_only=True, allow_null=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "id",
            "kind",
            "call",
            "organisation",
            "organisation_name",
            "allocation",
            "track",
            "project_title",
            "summary",
            "field",
            "requested_start",
            "requested_end",
            "max_concurrent_gpus",
            "justification",
            "gpu_requests",
            "state",
            "review_round",
            "submitted_at",
            "decided_at",
            "decision_reason",
            "created_at",
            "updated_at",
            "allowed_actions",
        ]

    def get_allowed_actions(self, application) -> list[str]:
        return [action.value for action in allowed_actions(application.state)]


class ApplicationIn(StrictInput):
    call = serializers.UUIDField()
    organisation = serializers.UUIDField()
    project_title = application_content_field("project_title")
    summary = application_content_field("summary")
    field = application_content_field("field")
    requested_start = application_content_field("requested_start")
    requested_end = application_content_field("requested_end")
    max_concurrent_gpus = application_content_field("max_concurrent_gpus")
    justification = application_content_field("justification")
    gpu_requests = GpuHoursByType()
    track = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)


class ApplicationPatch(StrictInput):
    project_title = application_content_field("project_title", required=False)
    summary = application_content_field("summary", required=False)
    field = application_content_field("field", required=False)
    requested_start = application_content_field("requested_start", required=False)
    requested_end = application_content_field("requested_end", required=False)
    max_concurrent_gpus = application_content_field("max_concurrent_gpus", required=False)
    justification = application_content_field("justification", required=False)
    gpu_requests = GpuHoursByType(required=False)
    track = serializers.CharField(max_length=32, required=False, allow_null=True)


class ReasonIn(StrictInput):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AssignIn(StrictInput):
    reviewers = serializers.ListField(
        child=serializers.EmailField(max_length=254), min_length=1, max_length=20
    )


class DecisionIn(StrictInput):
    decision = serializers.ChoiceField(choices=["approve", "reject", "request_revision"])
    reason = serializers.CharField(max_length=2000)
    awarded_gpu_hours = GpuHoursByType(required=False, allow_null=True, default=None)


class ReviewOut(serializers.ModelSerializer):
    """What staff and the reviewer themself see."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    application = serializers.UUIDField(source="application.public_id", read_only=True)
    application_title = serializers.CharField(source="application.project_title", read_only=True)
    reviewer = serializers.EmailField(source="reviewer.email", read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "application",
            "application_title",
            "reviewer",
            "round",
            "assigned_at",
            "technical_merit",
            "feasibility",
            "impact",
            "need_for_public_compute",
            "public_comment",
            "private_comment",
            "submitted_at",
        ]


class PublicReviewOut(serializers.ModelSerializer):
    """What the applicant sees: scores and the public comment, not who wrote it or the private note."""

    round = serializers.IntegerField()

    class Meta:
        model = Review
        fields = [
            "round",
            "technical_merit",
            "feasibility",
            "impact",
            "need_for_public_compute",
            "public_comment",
            "submitted_at",
        ]


def score_field():
    return serializers.IntegerField(min_value=1, max_value=5)


class ReviewSubmitIn(StrictInput):
    technical_merit = score_field()
    feasibility = score_field()
    impact = score_field()
    need_for_public_compute = score_field()
    public_comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    private_comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
