"""Outcome reports: an award's, submitted by its organisation; and staff's export of a call's or all."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.after_award import OutcomeIn, OutcomeOut
from portal.calls.selectors import calls_visible_to
from portal.csv_download import csv_download, xlsx_download
from portal.errors import InvalidInput
from quotas.outcome_export import (
    EXPORT_COLUMNS,
    csv_safe_rows,
    outcome_reports,
    outcome_rows,
    outcome_workbook,
)
from quotas.outcomes import outcome_report_submit, outcomes_of
from quotas.selectors import allocations_visible_to

EXPORTS = ("csv", "xlsx")
EXPORT = OpenApiParameter(
    "export", str, enum=list(EXPORTS), description="csv or xlsx: the reports as a file, one row each"
)
EXPORT_RESPONSES = {
    (200, "application/json"): OutcomeOut(many=True),
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="with ?export=csv"),
    (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiResponse(
        OpenApiTypes.BINARY, description="with ?export=xlsx"
    ),
}


class AllocationOutcomes(APIView):
    @extend_schema(responses=OutcomeOut(many=True), summary="An award's outcome reports")
    def get(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        return paginate(self, request, outcomes_of(allocation), OutcomeOut)

    @extend_schema(
        request=OutcomeIn,
        responses={201: OutcomeOut},
        summary="Owner or manager: report outcomes at a stage's end (stage) or the award's (no stage)",
    )
    def post(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        data = OutcomeIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        stage = values.pop("stage")
        report = outcome_report_submit(allocation=allocation, user=request.user, stage=stage, values=values)
        return Response(OutcomeOut(report).data, status=status.HTTP_201_CREATED)


def _exported(view, request, reports, name: str):
    export = request.query_params.get("export")
    if export is not None and export not in EXPORTS:
        raise InvalidInput(_("Invalid export."), fields={"export": [_("Choose csv or xlsx.")]})
    if export is None:
        return paginate(view, request, reports, OutcomeOut)
    rows = outcome_rows(reports)
    if export == "csv":
        return csv_download(csv_safe_rows(rows), EXPORT_COLUMNS, f"{name}.csv")
    return xlsx_download(outcome_workbook(rows), f"{name}.xlsx")


class CallOutcomes(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=EXPORT_RESPONSES, parameters=[EXPORT], summary="Staff: a call's outcome reports")
    def get(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        return _exported(self, request, outcome_reports(call), f"outcomes-{call.public_id}")


class OutcomeExport(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        responses=EXPORT_RESPONSES, parameters=[EXPORT], summary="Staff: every call's outcome reports"
    )
    def get(self, request):
        return _exported(self, request, outcome_reports(), "outcomes")
