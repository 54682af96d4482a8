"""Pure geometry of a horizontal stacked bar chart: one row per label, one segment per state."""

from portal.web.charts import WIDTH, _coordinate

ROW_HEIGHT = 24
LABEL_WIDTH = 180  # room for "node (GPU type)" labels
RIGHT = 48  # room for the total after each bar
TOP = 8


def stacked_bars(rows: list[tuple[str, dict[str, int]]], states: list[str]) -> dict:
    """Rows of (label, {state: count}); segment widths share one scale, the largest total filling the
    plot; states drawn in the order given, zero counts left out."""
    largest = max((sum(counts.values()) for _, counts in rows), default=0) or 1
    plot_width = WIDTH - LABEL_WIDTH - RIGHT
    bar_height = ROW_HEIGHT * 0.7
    placed = []
    for index, (label, counts) in enumerate(rows):
        y = TOP + index * ROW_HEIGHT
        x = float(LABEL_WIDTH)
        segments = []
        for state in states:
            count = counts.get(state, 0)
            if count <= 0:
                continue
            width = plot_width * count / largest
            segments.append(
                {"state": state, "count": count, "x": _coordinate(x), "width": _coordinate(width)}
            )
            x += width
        placed.append(
            {
                "label": label,
                "total": sum(counts.values()),
                "y": _coordinate(y),
                "height": _coordinate(bar_height),
                "text_y": _coordinate(y + bar_height / 2),
                "total_x": _coordinate(x + 4),
                "segments": segments,
            }
        )
    return {
        "width": WIDTH,
        "height": TOP * 2 + max(len(rows), 1) * ROW_HEIGHT,
        "label_x": LABEL_WIDTH - 6,
        "rows": placed,
    }
