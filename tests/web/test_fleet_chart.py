"""The fleet chart's pure stacked-bar geometry, table-driven."""

import pytest

from portal.web import fleet_chart
from portal.web.charts import WIDTH
from portal.web.fleet_chart import stacked_bars

PLOT_WIDTH = WIDTH - fleet_chart.LABEL_WIDTH - fleet_chart.RIGHT
STATES = ["busy", "reserved", "free"]


def widths(row: dict) -> dict[str, float]:
    return {segment["state"]: float(segment["width"]) for segment in row["segments"]}


@pytest.mark.parametrize(
    ("rows", "wanted"),
    [
        ([], []),
        ([("a (A100)", {"busy": 0, "free": 0})], [{}]),  # a node with nothing to draw
        ([("a (A100)", {"busy": 4})], [{"busy": PLOT_WIDTH}]),
        (
            [("a (A100)", {"busy": 2, "free": 2}), ("b (H100)", {"reserved": 1, "free": 1})],
            [
                {"busy": PLOT_WIDTH / 2, "free": PLOT_WIDTH / 2},
                {"reserved": PLOT_WIDTH / 4, "free": PLOT_WIDTH / 4},
            ],
        ),
    ],
)
def test_segments_share_one_scale(rows, wanted):
    geometry = stacked_bars(rows, STATES)
    assert [widths(row) for row in geometry["rows"]] == [pytest.approx(w, abs=0.05) for w in wanted]


def test_segments_follow_the_order_of_states_and_abut():
    (row,) = stacked_bars([("a", {"free": 1, "busy": 1, "reserved": 2})], STATES)["rows"]
    assert [segment["state"] for segment in row["segments"]] == STATES
    ends = [float(segment["x"]) + float(segment["width"]) for segment in row["segments"]]
    starts = [float(segment["x"]) for segment in row["segments"]]
    assert starts[0] == fleet_chart.LABEL_WIDTH and starts[1:] == pytest.approx(ends[:-1], abs=0.1)
    assert row["total"] == 4


def test_the_box_grows_a_row_at_a_time():
    assert stacked_bars([], STATES)["height"] == stacked_bars([("a", {"busy": 1})], STATES)["height"]
    assert (
        stacked_bars([("a", {}), ("b", {})], STATES)["height"]
        == 2 * fleet_chart.TOP + 2 * fleet_chart.ROW_HEIGHT
    )
