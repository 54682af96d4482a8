"""Server-rendered charts: the geometry of a simple SVG bar chart, computed here, drawn by a template.

Coordinates are handed to the template as preformatted strings, so localisation never touches them.
"""

import math
from collections import OrderedDict

WIDTH = 640
HEIGHT = 220
LEFT = 56  # room for the value axis labels
RIGHT = 8
TOP = 16
BOTTOM = 28  # room for the month labels
MAX_LABELS = 12  # more bars than this: label every n-th month only


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (1 for nothing to show)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    """Whole numbers as they are; others to one decimal, two below 1, and two significant digits below
    0.01 (a short demo job's kWh would otherwise read 0.00)."""
    if value == int(value):
        return f"{int(value):,}"
    if value < 0.01:
        return f"{value:.{1 - math.floor(math.log10(value))}f}"
    return f"{value:,.1f}" if value >= 1 else f"{value:,.2f}"


def _coordinate(value: float) -> str:
    return f"{value:.1f}"


def per_month(months: list[dict], field: str = "gpu_hours") -> list[tuple[str, float]]:
    """``quotas.reports.monthly_usage`` rows (one per month and GPU type) summed per month, in order."""
    totals: OrderedDict[str, float] = OrderedDict()
    for row in months:
        totals[row["month"]] = totals.get(row["month"], 0.0) + row[field]
    return [(month, round(total, 4)) for month, total in totals.items()]


def bar_chart(points: list[tuple[str, float]]) -> dict:
    """Bars, value gridlines and labels for ``points`` (label, value ≥ 0) in a WIDTH × HEIGHT box."""
    top_value = _nice_ceiling(max((value for _, value in points), default=0.0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(points), 1)
    bar_width = slot * 0.7
    label_every = max(1, math.ceil(len(points) / MAX_LABELS))
    bars = []
    for index, (label, value) in enumerate(points):
        height = plot_height * value / top_value
        x = LEFT + index * slot + (slot - bar_width) / 2
        y = TOP + plot_height - height
        bars.append(
            {
                "label": label,
                "value": _number(value),
                "x": _coordinate(x),
                "y": _coordinate(y),
                "width": _coordinate(bar_width),
                "height": _coordinate(height),
                "centre": _coordinate(x + bar_width / 2),
                "show_label": index % label_every == 0,
            }
        )
    return {**chart_frame(top_value), "bars": bars}


def chart_frame(top_value: float) -> dict:
    """The box, baseline, label positions and value gridlines every chart here shares."""
    plot_height = HEIGHT - TOP - BOTTOM
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": _coordinate(TOP + plot_height),
        "label_y": _coordinate(HEIGHT - 8),
        "value_label_x": LEFT - 6,
        "gridlines": [
            {"y": _coordinate(TOP + plot_height * (1 - fraction)), "value": _number(top_value * fraction)}
            for fraction in (0, 0.5, 1)
        ],
    }
