"""Estimated starts' ranges widened by how recent ones turned out (scheduler/core/calibration.py)."""

from dataclasses import replace

import pytest

from scheduler.core import plan
from scheduler.core.calibration import WaitCalibration, WaitSample, band, calibrate
from scheduler.core.estimate import StartEstimate, estimate_ranges
from scheduler.core.predict import Prediction
from tests.scheduler.core.builders import HOUR, node, queued, running, snapshot

MINUTE = 60.0
NOW = 100 * HOUR


def samples(announced_s: float, ratios, gpu_type: str = "A100") -> list[WaitSample]:
    return [WaitSample(gpu_type, announced_s, announced_s * ratio) for ratio in ratios]


@pytest.mark.parametrize(
    "announced_s, expected",
    [
        (0, 0),  # "now" counts as one minute
        (3 * MINUTE, 0),
        (4 * MINUTE, 1),
        (15 * MINUTE, 1),
        (16 * MINUTE, 2),
        (4 * HOUR, 3),
        (5 * HOUR, 4),
    ],
)
def test_bands_grow_by_a_factor_of_four_from_one_minute(announced_s, expected):
    assert band(announced_s) == expected


@pytest.mark.parametrize(
    "history, estimate, expected",
    [
        # too few starts in the band: the plan's estimate as it is
        (samples(HOUR, [3.0] * 19), StartEstimate(NOW + HOUR, NOW + HOUR, NOW + HOUR), None),
        # jobs announced an hour really waited 2–4 h: the estimate stays the plan's, the range is widened
        # to the band's 90th percentile (never narrowed: the plan's own low stays)
        (
            samples(HOUR, [2.0] * 10 + [3.0] * 10 + [4.0] * 10),
            StartEstimate(NOW + HOUR, NOW + HOUR, NOW + HOUR),
            StartEstimate(NOW + HOUR, NOW + HOUR, NOW + 4 * HOUR),
        ),
        # starts come early (ratio 0.5): the range reaches down to it, the plan's own high stays
        (
            samples(HOUR, [0.5] * 30),
            StartEstimate(NOW + HOUR, NOW + 0.9 * HOUR, NOW + 2 * HOUR),
            StartEstimate(NOW + HOUR, NOW + 0.5 * HOUR, NOW + 2 * HOUR),
        ),
        # another band's history says nothing about this one (5 min announced: band 1, not band 2)
        (samples(HOUR, [3.0] * 30), StartEstimate(NOW + 300, NOW + 300, NOW + 300), None),
        # another GPU type's history neither
        (
            samples(HOUR, [3.0] * 30, gpu_type="H100"),
            StartEstimate(NOW + HOUR, NOW + HOUR, NOW + HOUR),
            None,
        ),
    ],
)
def test_a_band_with_enough_history_widens_the_range_by_its_ratios(history, estimate, expected):
    calibration = WaitCalibration(history)
    assert calibration.apply("A100", NOW, estimate) == (expected or estimate)


def test_the_rule_before_moved_the_estimate_by_the_bands_median_ratio():
    # kept for bench.estimate_sweep's comparison: the wait tripled, the range widened as above
    calibration = WaitCalibration(samples(HOUR, [2.0] * 10 + [3.0] * 10 + [4.0] * 10), move_estimate=True)
    estimate = StartEstimate(NOW + HOUR, NOW + HOUR, NOW + HOUR)
    assert calibration.apply("A100", NOW, estimate) == StartEstimate(
        NOW + 3 * HOUR, NOW + HOUR, NOW + 4 * HOUR
    )


def test_only_the_newest_window_of_a_band_counts():
    calibration = WaitCalibration(samples(HOUR, [10.0] * 50 + [2.0] * 40), window=40, min_samples=20)
    assert calibration.ratios("A100", HOUR) == (2.0, 2.0, 2.0)
    for _ in range(5):
        calibration.add(WaitSample("A100", HOUR, 10 * HOUR))
    assert calibration.ratios("A100", HOUR) == (2.0, 2.0, 10.0)  # new samples count at once


@pytest.mark.parametrize("move_estimate", [False, True])
def test_a_reserved_start_stays_the_latest_estimate(move_estimate):
    calibration = WaitCalibration(samples(2 * HOUR, [5.0] * 30), move_estimate=move_estimate)
    estimate = StartEstimate(NOW + 2 * HOUR, NOW + 2 * HOUR, NOW + 2 * HOUR)
    corrected = calibration.apply("A100", NOW, estimate, promised=NOW + 3 * HOUR)
    at = NOW + 3 * HOUR if move_estimate else NOW + 2 * HOUR
    assert corrected == StartEstimate(at, NOW + 2 * HOUR, NOW + 3 * HOUR)


@pytest.mark.parametrize("move_estimate", [False, True])
def test_no_estimate_is_before_now_or_outside_its_range(move_estimate):
    calibration = WaitCalibration(samples(HOUR, [0.0] * 30), move_estimate=move_estimate)
    corrected = calibration.apply("A100", NOW, StartEstimate(NOW + HOUR, NOW + HOUR, NOW + HOUR))
    assert NOW <= corrected.low <= corrected.at <= corrected.high


def test_calibrate_widens_the_plans_ranges_and_keeps_reservations_as_promises():
    # A100 node full until 10 h (max_runtime) with a run predicted to end at 1 h; an 8-GPU job waits
    # and holds a reservation at 10 h; history says starts announced an hour away came 4× later.
    busy = replace(
        running("r", "n1", 8, ends_at=10 * HOUR),
        prediction=Prediction(HOUR, HOUR, HOUR, "same_name", 5),
    )
    snap = snapshot([node("n1", free=0)], [queued("q", 8)], [busy], now=0.0)
    decision = plan(snap)
    planned = estimate_ranges(snap, decision)
    assert planned["q"].at == HOUR
    (reservation,) = decision.reservations
    corrected = calibrate(planned, snap, decision, WaitCalibration(samples(HOUR, [4.0] * 30)))
    assert corrected["q"] == StartEstimate(HOUR, HOUR, 4 * HOUR)
    too_late = calibrate(planned, snap, decision, WaitCalibration(samples(HOUR, [20.0] * 30)))
    assert too_late["q"] == StartEstimate(HOUR, HOUR, reservation.start_at)
    assert reservation.start_at == 10 * HOUR
