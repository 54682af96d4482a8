"""What follows an award, in and out: stages, usage checks, reclaims, misuse reports and outcome reports.
The outcome report's fields come from quotas/outcome_fields.py, their one definition."""

from rest_framework import serializers

from portal.api.serializers.strict import StrictInput
from quotas.models import AllocationStage, MisuseKind, MisuseReport, OutcomeReport, Reclaim, UsageCheck
from quotas.outcome_fields import OUTCOME_FIELD_NAMES, OUTCOME_FIELDS, OutcomeKind
from quotas.reclaims import ReclaimDecision
from quotas.stages import REPORT_MAX_LENGTH, StageDecision, stage_report_opens_on


class StageOut(serializers.ModelSerializer):
    report_opens_on = serializers.SerializerMethodField()

    class Meta:
        model = AllocationStage
        fields = [
            "number",
            "starts_on",
            "ends_on",
            "gpu_type",
            "gpu_hours",
            "state",
            "report_opens_on",
            "report",
            "reported_at",
            "evaluation",
            "evaluated_at",
        ]

    def get_report_opens_on(self, stage) -> str | None:
        return stage_report_opens_on(stage).isoformat() if stage.number > 1 else None


class StageReportIn(StrictInput):
    number = serializers.IntegerField(min_value=1, max_value=100, help_text="The stage the report asks for.")
    report = serializers.CharField(max_length=REPORT_MAX_LENGTH)


class StageEvaluationIn(StrictInput):
    number = serializers.IntegerField(min_value=1, max_value=100, help_text="The reported stage.")
    decision = serializers.ChoiceField(choices=StageDecision.CHOICES)
    evaluation = serializers.CharField(max_length=AllocationStage._meta.get_field("evaluation").max_length)


class UsageCheckOut(serializers.ModelSerializer):
    class Meta:
        model = UsageCheck
        fields = ["month", "planned_gpu_hours", "used_gpu_hours", "action", "created_at"]


class ReclaimOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    allocation = serializers.UUIDField(source="allocation.public_id", read_only=True)
    project_title = serializers.CharField(source="allocation.project_title", read_only=True)
    organisation_name = serializers.CharField(source="allocation.organisation.name", read_only=True)

    class Meta:
        model = Reclaim
        fields = [
            "id",
            "allocation",
            "project_title",
            "organisation_name",
            "gpu_type",
            "gpu_hours",
            "state",
            "created_at",
            "decided_at",
            "reason",
        ]


class ReclaimDecisionIn(StrictInput):
    decision = serializers.ChoiceField(choices=ReclaimDecision.CHOICES)
    reason = serializers.CharField(
        max_length=Reclaim._meta.get_field("reason").max_length, required=False, allow_blank=True, default=""
    )


class MisuseReportOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    allocation = serializers.UUIDField(source="allocation.public_id", read_only=True)
    reported_by = serializers.EmailField(source="reported_by.email", read_only=True)

    class Meta:
        model = MisuseReport
        fields = ["id", "allocation", "kind", "description", "reported_by", "created_at"]


class MisuseReportIn(StrictInput):
    kind = serializers.ChoiceField(choices=MisuseKind.choices)
    description = serializers.CharField(max_length=MisuseReport._meta.get_field("description").max_length)


def _outcome_field(field) -> serializers.Field:
    if field.kind == OutcomeKind.FLAG:
        return serializers.BooleanField(required=field.required)
    if field.kind == OutcomeKind.TEXT:
        return serializers.CharField(max_length=field.max_value, required=False, allow_blank=True, default="")
    return serializers.IntegerField(
        min_value=field.min_value, max_value=field.max_value, required=field.required
    )


class OutcomeOut(serializers.ModelSerializer):
    submitted_by = serializers.EmailField(source="submitted_by.email", read_only=True)

    class Meta:
        model = OutcomeReport
        fields = ["stage", *OUTCOME_FIELD_NAMES, "submitted_by", "submitted_at"]


OutcomeIn = type(
    "OutcomeIn",
    (StrictInput,),
    {
        "__doc__": "An outcome report: ``stage`` is the stage's number, or null for the award's end.",
        "stage": serializers.IntegerField(
            min_value=1, max_value=100, required=False, allow_null=True, default=None
        ),
        **{field.name: _outcome_field(field) for field in OUTCOME_FIELDS},
    },
)
