"""Staff's settlement page: what the programme owes each provider per contract and month, with the
reserved capacity paid for and left idle shown first (docs/providers.md, "Settlement")."""

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone

from portal.csv_download import csv_download
from portal.errors import InvalidInput
from portal.providers.settlement import month_start
from portal.web.access import staff_required
from scheduler.settlement import LINE_COLUMNS, line_row, provider_totals, settlement, settlement_period


def _default_period() -> tuple[str, str]:
    """The last three months, this one included."""
    this = month_start(timezone.localdate())
    first = month_start(month_start(this - timedelta(days=1)) - timedelta(days=1))
    return f"{first:%Y-%m}", f"{this:%Y-%m}"


@staff_required
def staff_settlement(request):
    default_from, default_to = _default_period()
    given = {"from": request.GET.get("from", default_from), "to": request.GET.get("to", default_to)}
    context = {"given": given, "errors": {}, "lines": None}
    try:
        first, last = settlement_period(given["from"], given["to"])
    except InvalidInput as error:
        context["errors"] = error.fields
        return render(request, "web/staff/settlement.html", context, status=400)
    lines, unmatched = settlement(first, last)
    if request.GET.get("export") == "csv":
        return csv_download(
            [line_row(line) for line in lines], LINE_COLUMNS, f"settlement-{first:%Y-%m}-{last:%Y-%m}.csv"
        )
    totals = provider_totals(lines)
    context |= {
        "lines": lines,
        "unmatched": unmatched,
        "totals": totals,
        "overall": totals[-1] if totals else None,
    }
    return render(request, "web/staff/settlement.html", context)
