"""A staged award's stages, their mid-term reports and staff's evaluation; the monthly usage checks."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.after_award import StageEvaluationIn, StageOut, StageReportIn, UsageCheckOut
from quotas.selectors import allocations_visible_to
from quotas.stages import stage_evaluate, stage_report_submit


class AllocationStages(APIView):
    @extend_schema(responses=StageOut(many=True), summary="An award's stages (none: it is not staged)")
    def get(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        return paginate(self, request, allocation.stages.order_by("number"), StageOut)


class StageReport(APIView):
    @extend_schema(
        request=StageReportIn,
        responses=StageOut,
        summary="Owner or manager: the mid-term report that asks for the next stage",
    )
    def post(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        data = StageReportIn(data=request.data)
        data.is_valid(raise_exception=True)
        stage = stage_report_submit(allocation=allocation, user=request.user, **data.validated_data)
        return Response(StageOut(stage).data)


class StageEvaluation(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=StageEvaluationIn,
        responses=StageOut,
        summary="Staff: release a reported stage, or return it and every later one to the pool",
    )
    def post(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        data = StageEvaluationIn(data=request.data)
        data.is_valid(raise_exception=True)
        stage = stage_evaluate(allocation=allocation, staff=request.user, **data.validated_data)
        return Response(StageOut(stage).data)


class AllocationUsageChecks(APIView):
    @extend_schema(responses=UsageCheckOut(many=True), summary="An award's monthly checks against its plan")
    def get(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        return paginate(self, request, allocation.usage_checks.order_by("-month"), UsageCheckOut)
