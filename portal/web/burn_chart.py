"""Pure geometry of the GPU-hours-used-over-time line chart, and the run-out projection it draws.

No database and no translation here: dates and GPU-hours in, preformatted SVG coordinates out, so the
geometry is tested with plain tables and localisation never touches a coordinate.
"""

import math
from datetime import date, timedelta

from portal.web.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, _coordinate, _nice_ceiling, chart_frame

RECENT_DAYS = 7  # the rate a projection extends is the mean over this many days up to today
# Further out than this a date means nothing (and a tiny rate would overflow the calendar): read as
# "does not run out at this rate".
HORIZON_DAYS = 3650


def recent_rate(daily_hours: list[tuple[date, float]], *, today: date, days: int = RECENT_DAYS) -> float:
    """GPU-hours per day over the ``days`` days ending with ``today`` (days without use count as 0)."""
    first = today - timedelta(days=days - 1)
    return sum(hours for day, hours in daily_hours if first <= day <= today) / days


def run_out_date(*, remaining_hours: float, rate_per_day: float, today: date) -> date | None:
    """The day the remaining hours are gone at ``rate_per_day``; None when the rate is zero or the day
    lies more than HORIZON_DAYS away."""
    if remaining_hours <= 0:
        return today
    if rate_per_day <= 0 or remaining_hours / rate_per_day > HORIZON_DAYS:
        return None
    return today + timedelta(days=math.ceil(remaining_hours / rate_per_day))


def cumulative(daily_hours: list[tuple[date, float]]) -> list[tuple[date, float]]:
    """Running totals of ``daily_hours`` (in date order)."""
    total = 0.0
    points = []
    for day, hours in sorted(daily_hours):
        total += hours
        points.append((day, round(total, 4)))
    return points


def burn_chart(
    *,
    start: date,
    end: date,
    used: list[tuple[date, float]],
    awarded_hours: float,
    today: date,
    run_out_on: date | None,
) -> dict:
    """Cumulative ``used`` from ``start`` to ``end``, a line at ``awarded_hours`` and, where there is a
    run-out date, a dashed projection from today's total to the award, clipped at ``end``."""
    end = max(end, start + timedelta(days=1), *(day for day, _ in used))
    span_days = (end - start).days
    top_value = _nice_ceiling(max([awarded_hours, *(hours for _, hours in used)]))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM

    def x_of(day: date) -> float:
        return LEFT + plot_width * (day - start).days / span_days

    def y_of(hours: float) -> float:
        return TOP + plot_height * (1 - hours / top_value)

    line = [(start, 0.0), *((day, hours) for day, hours in used if day >= start)]
    used_now = line[-1][1]
    projection = None
    if run_out_on is not None and used_now < awarded_hours and start <= today <= end:
        # Beyond the chart's end the line stops where the award would stand on the last day.
        stop = min(run_out_on, end)
        days_to_run_out = max((run_out_on - today).days, 1)
        fraction = (stop - today).days / days_to_run_out
        projection = {
            "x1": _coordinate(x_of(today)),
            "y1": _coordinate(y_of(used_now)),
            "x2": _coordinate(x_of(stop)),
            "y2": _coordinate(y_of(used_now + (awarded_hours - used_now) * fraction)),
        }
    return {
        **chart_frame(top_value),
        "points": " ".join(f"{_coordinate(x_of(day))},{_coordinate(y_of(hours))}" for day, hours in line),
        "awarded_y": _coordinate(y_of(awarded_hours)),
        "projection": projection,
        "date_labels": [
            {"x": _coordinate(x_of(start)), "text": start.isoformat(), "anchor": "start"},
            {"x": _coordinate(x_of(end)), "text": end.isoformat(), "anchor": "end"},
        ],
    }
