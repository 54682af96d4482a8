"""Settlement (staff): what the programme owes each provider per contract and month, and idle capacity."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, csv_requested
from portal.csv_download import csv_download
from portal.errors import InvalidInput
from scheduler.settlement import LINE_COLUMNS, line_row, settlement, settlement_period


class Settlement(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, required=True, description="first month, YYYY-MM"),
            OpenApiParameter("to", str, required=True, description="last month, YYYY-MM (at most 36 months)"),
            OpenApiParameter("export", str, enum=["csv"], description="csv: the lines as a CSV file"),
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description="lines per contract and month, and usage no contract covers"
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="with ?export=csv"),
        },
        summary="Settlement per provider, contract and month: GPU-hours rented, used and idle, won owed",
    )
    def get(self, request):
        errors: dict[str, list[str]] = {}
        export = False
        try:
            export = csv_requested(request)
        except InvalidInput as error:  # reported with the period's errors, all at once
            errors.update(error.fields)
        first, last = settlement_period(
            request.query_params.get("from", ""), request.query_params.get("to", ""), errors
        )
        lines, unmatched = settlement(first, last)
        rows = [line_row(line) for line in lines]
        if export:
            return csv_download(rows, LINE_COLUMNS, f"settlement-{first:%Y-%m}-{last:%Y-%m}.csv")
        return Response(
            {
                "lines": rows,
                "unmatched": [
                    {
                        "provider": u.provider,
                        "gpu_type": u.gpu_type,
                        "month": u.month.strftime("%Y-%m"),
                        "gpu_hours": str(round(u.gpu_hours, 3)),
                    }
                    for u in unmatched
                ],
            }
        )
