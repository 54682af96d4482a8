"""Pure geometry of a line over a job's run: values against minutes since its first interval began."""

from portal.web.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, _coordinate, _nice_ceiling, chart_frame

MAX_MARKERS = 60  # with more points than this the line alone reads better than a row of dots


def run_chart(points: list[tuple[float, float]], *, top_value: float | None = None) -> dict:
    """A polyline of ``points`` (seconds since the start, value ≥ 0) in the shared chart box; the value
    axis runs to ``top_value`` (e.g. 100 %) or to a round number above the largest value."""
    span_seconds = max([60.0, *(seconds for seconds, _ in points)])
    top = top_value or _nice_ceiling(max((value for _, value in points), default=0.0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    placed = [
        (
            _coordinate(LEFT + plot_width * seconds / span_seconds),
            _coordinate(TOP + plot_height * (1 - value / top)),
        )
        for seconds, value in points
    ]
    return {
        **chart_frame(top),
        "points": " ".join(f"{x},{y}" for x, y in placed),
        "markers": [{"x": x, "y": y} for x, y in placed] if len(placed) <= MAX_MARKERS else [],
        "minute_labels": [
            {"x": _coordinate(LEFT), "minutes": 0, "anchor": "start"},
            {"x": _coordinate(LEFT + plot_width), "minutes": round(span_seconds / 60), "anchor": "end"},
        ],
    }
