"""A call's statistics: the full figures for staff, anonymised aggregates for anyone (docs/programme.md)."""

from django.shortcuts import render

from portal.calls.selectors import calls_visible_to
from portal.web.access import staff_required, visible_or_404
from quotas.rounds.statistics import public_statistics
from quotas.statistics import DIMENSION_LABELS, call_statistics_of, statistics_table


def _context(call, statistics, track_names) -> dict:
    table = statistics_table(statistics, track_names)
    return {
        "call": call,
        "total_rows": [table["total"]],
        "breakdowns": [(DIMENSION_LABELS[d], table[f"by_{d}"]) for d in DIMENSION_LABELS],
    }


def call_statistics(request, public_id):
    """Public: no sign-in, no organisation or project named, small groups withheld."""
    call = visible_or_404(calls_visible_to(request.user), public_id)
    statistics, track_names = call_statistics_of(call)
    context = _context(call, public_statistics(statistics), track_names)
    return render(request, "web/calls/statistics.html", context)


@staff_required
def staff_call_statistics(request, public_id):
    call = visible_or_404(calls_visible_to(request.user), public_id)
    statistics, track_names = call_statistics_of(call)
    return render(request, "web/staff/call_statistics.html", _context(call, statistics, track_names))
