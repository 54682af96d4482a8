"""Staff: misuse reports on an award; filing one suspends it."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.after_award import MisuseReportIn, MisuseReportOut
from quotas.misuse import misuse_report_file
from quotas.selectors import allocations_visible_to


class AllocationMisuseReports(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=MisuseReportOut(many=True), summary="Staff: an award's misuse reports")
    def get(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        reports = allocation.misuse_reports.select_related("reported_by")
        return paginate(self, request, reports, MisuseReportOut)

    @extend_schema(
        request=MisuseReportIn,
        responses={201: MisuseReportOut},
        summary="Staff: report misuse of an award, which suspends it",
    )
    def post(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        data = MisuseReportIn(data=request.data)
        data.is_valid(raise_exception=True)
        report = misuse_report_file(allocation=allocation, staff=request.user, **data.validated_data)
        return Response(MisuseReportOut(report).data, status=status.HTTP_201_CREATED)
