"""The job run chart's pure geometry, table-driven."""

import pytest

from portal.web import charts
from portal.web.run_chart import MAX_MARKERS, run_chart

PLOT_WIDTH = charts.WIDTH - charts.LEFT - charts.RIGHT
PLOT_HEIGHT = charts.HEIGHT - charts.TOP - charts.BOTTOM
BOTTOM_Y = charts.TOP + PLOT_HEIGHT


def placed(geometry: dict) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in geometry["points"].split()]


@pytest.mark.parametrize(
    ("points", "top_value", "wanted_points", "wanted_top", "wanted_minutes"),
    [
        ("empty", None, [], "1", 1),
        ("one", 100, [(charts.LEFT + PLOT_WIDTH, charts.TOP + PLOT_HEIGHT / 2)], "100", 1),
        (
            "two",
            None,
            [(charts.LEFT + PLOT_WIDTH / 2, BOTTOM_Y), (charts.LEFT + PLOT_WIDTH, charts.TOP)],
            "500",
            4,
        ),
    ],
)
def test_it_places_points_by_elapsed_time_and_value(
    points, top_value, wanted_points, wanted_top, wanted_minutes
):
    series = {"empty": [], "one": [(60.0, 50.0)], "two": [(120.0, 0.0), (240.0, 500.0)]}[points]
    geometry = run_chart(series, top_value=top_value)
    flat = [coordinate for point in placed(geometry) for coordinate in point]
    assert flat == pytest.approx([coordinate for point in wanted_points for coordinate in point], abs=0.05)
    assert geometry["gridlines"][-1]["value"] == wanted_top
    assert [label["minutes"] for label in geometry["minute_labels"]] == [0, wanted_minutes]
    assert len(geometry["markers"]) == len(wanted_points)


def test_a_value_scale_rounds_up_to_a_nice_number():
    assert run_chart([(60.0, 730.0)])["gridlines"][-1]["value"] == "1,000"


def test_long_runs_draw_the_line_without_markers():
    geometry = run_chart([(60.0 * minute, 1.0) for minute in range(1, MAX_MARKERS + 2)])
    assert geometry["markers"] == [] and len(placed(geometry)) == MAX_MARKERS + 1
