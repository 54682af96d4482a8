"""Settlement (staff): what the programme owes each provider per contract and month, and idle capacity."""

import re
from datetime import date

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, csv_requested
from portal.csv_download import csv_download
from portal.errors import InvalidInput
from scheduler.settlement import settlement

MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
MAX_MONTHS = 36
CSV_COLUMNS = [
    "provider",
    "contract",
    "gpu_type",
    "month",
    "kind",
    "rented_gpu_hours",
    "used_gpu_hours",
    "idle_reserved_gpu_hours",
    "owed_krw",
    "utilisation",
]


def _month(request, name: str, errors: dict) -> date | None:
    value = request.query_params.get(name, "")
    match = MONTH.match(value)
    if match and 2000 <= int(match[1]) <= 2999 and 1 <= int(match[2]) <= 12:
        return date(int(match[1]), int(match[2]), 1)
    errors[name] = [_("A month, YYYY-MM.")]
    return None


def _row(line) -> dict:
    return {
        "provider": line.provider,
        "contract": line.contract_id,
        "gpu_type": line.gpu_type,
        "month": line.month.strftime("%Y-%m"),
        "kind": line.kind,
        "rented_gpu_hours": str(line.rented_gpu_hours),
        "used_gpu_hours": str(round(line.used_gpu_hours, 3)),
        "idle_reserved_gpu_hours": str(round(line.idle_reserved_gpu_hours, 3)),
        "owed_krw": str(line.owed_krw),
        "utilisation": None if line.utilisation is None else round(line.utilisation, 4),
    }


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
        first, last = _month(request, "from", errors), _month(request, "to", errors)
        export = False
        try:
            export = csv_requested(request)
        except InvalidInput as error:  # reported with the period's errors, all at once
            errors.update(error.fields)
        if first and last:
            span = (last.year - first.year) * 12 + last.month - first.month
            if span < 0:
                errors["to"] = [_("The last month cannot come before the first.")]
            elif span >= MAX_MONTHS:
                errors["to"] = [_("At most %(n)d months at once.") % {"n": MAX_MONTHS}]
        if errors:
            raise InvalidInput(_("Invalid settlement period."), fields=errors)
        lines, unmatched = settlement(first, last)
        rows = [_row(line) for line in lines]
        if export:
            return csv_download(rows, CSV_COLUMNS, f"settlement-{first:%Y-%m}-{last:%Y-%m}.csv")
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
