"""The burn chart's pure geometry and run-out projection, table-driven."""

from datetime import date

import pytest

from portal.web import burn_chart as chart
from portal.web.burn_chart import burn_chart, cumulative, recent_rate, run_out_date

TODAY = date(2026, 4, 10)
PLOT_BOTTOM = chart.HEIGHT - chart.BOTTOM
PLOT_RIGHT = chart.WIDTH - chart.RIGHT


@pytest.mark.parametrize(
    ("remaining", "rate", "wanted"),
    [
        (100.0, 10.0, date(2026, 4, 20)),
        (101.0, 10.0, date(2026, 4, 21)),  # part of a day still counts as that day
        (100.0, 0.0, None),  # zero rate: it does not run out
        (0.0, 0.0, TODAY),  # already used up
        (-5.0, 3.0, TODAY),
        (3650.0, 1.0, date(2036, 4, 7)),  # ten years: still a date
        (3651.0, 1.0, None),  # beyond the horizon: does not run out at this rate
        (1000.0, 1e-12, None),  # a tiny rate would overflow the calendar
    ],
)
def test_it_projects_the_run_out_day(remaining, rate, wanted):
    assert run_out_date(remaining_hours=remaining, rate_per_day=rate, today=TODAY) == wanted


@pytest.mark.parametrize(
    ("daily", "wanted"),
    [
        ([], 0.0),
        ([(TODAY, 7.0)], 1.0),
        ([(date(2026, 4, 4), 7.0), (date(2026, 4, 3), 100.0)], 1.0),  # only the last 7 days count
        ([(date(2026, 4, 11), 70.0)], 0.0),  # the future does not count
    ],
)
def test_it_averages_the_recent_rate_over_seven_days(daily, wanted):
    assert recent_rate(daily, today=TODAY) == pytest.approx(wanted)


def test_it_sums_days_into_running_totals():
    assert cumulative([(date(2026, 4, 2), 2.0), (date(2026, 4, 1), 1.5)]) == [
        (date(2026, 4, 1), 1.5),
        (date(2026, 4, 2), 3.5),
    ]


def points(geometry: dict) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in geometry["points"].split()]


def test_an_empty_series_is_a_flat_line_at_zero_with_the_award_above():
    geometry = burn_chart(
        start=date(2026, 4, 1),
        end=date(2026, 4, 30),
        used=[],
        awarded_hours=100,
        today=TODAY,
        run_out_on=None,
    )
    assert points(geometry) == [(chart.LEFT, PLOT_BOTTOM)]
    assert float(geometry["awarded_y"]) == chart.TOP  # 100 is its own nice ceiling
    assert geometry["projection"] is None
    assert [line["value"] for line in geometry["gridlines"]] == ["0", "50", "100"]


def test_one_point_is_placed_by_day_and_hours():
    start, end = date(2026, 4, 1), date(2026, 5, 1)  # 30 days wide
    geometry = burn_chart(
        start=start,
        end=end,
        used=[(date(2026, 4, 16), 50.0)],
        awarded_hours=100,
        today=TODAY,
        run_out_on=None,
    )
    plot_width = chart.WIDTH - chart.LEFT - chart.RIGHT
    plot_height = PLOT_BOTTOM - chart.TOP
    assert points(geometry)[1] == pytest.approx(
        (chart.LEFT + plot_width / 2, chart.TOP + plot_height / 2), abs=0.05
    )
    assert [label["text"] for label in geometry["date_labels"]] == ["2026-04-01", "2026-05-01"]


def test_the_scale_grows_past_the_award_when_use_exceeds_it():
    geometry = burn_chart(
        start=date(2026, 4, 1),
        end=date(2026, 4, 30),
        used=[(TODAY, 150.0)],
        awarded_hours=100,
        today=TODAY,
        run_out_on=TODAY,
    )
    assert geometry["gridlines"][-1]["value"] == "200"
    assert geometry["projection"] is None  # nothing left to project


def test_the_projection_runs_from_today_to_the_award():
    geometry = burn_chart(
        start=date(2026, 4, 1),
        end=date(2026, 4, 30),
        used=[(TODAY, 50.0)],
        awarded_hours=100,
        today=TODAY,
        run_out_on=date(2026, 4, 20),
    )
    projection = geometry["projection"]
    assert (projection["x1"], projection["y1"]) == tuple(geometry["points"].split()[-1].split(","))
    assert projection["y2"] == geometry["awarded_y"]


def test_a_projection_past_the_end_stops_at_the_end_short_of_the_award():
    geometry = burn_chart(
        start=date(2026, 4, 1),
        end=date(2026, 4, 20),
        used=[(TODAY, 50.0)],
        awarded_hours=100,
        today=TODAY,
        run_out_on=date(2026, 4, 30),  # 20 days away; the chart ends after 10 of them
    )
    projection = geometry["projection"]
    assert float(projection["x2"]) == pytest.approx(PLOT_RIGHT)
    plot_height = PLOT_BOTTOM - chart.TOP
    assert float(projection["y2"]) == pytest.approx(chart.TOP + plot_height * 0.25, abs=0.05)  # 75 of 100


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        (1200.0, "1,200"),
        (2.5, "2.5"),
        (0.25, "0.25"),
        (0.0042, "0.0042"),
        (0.005, "0.0050"),
        (0.00004, "0.000040"),
    ],
)
def test_chart_numbers_keep_small_values_readable(value, wanted):
    from portal.web.charts import _number

    assert _number(value) == wanted
