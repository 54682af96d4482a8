"""Runtime prediction from history (scheduler/core/predict.py): which history matches, and the numbers."""

from dataclasses import replace

import pytest

from scheduler.core.predict import FinishedRun, JobTraits, RuntimeHistory, name_stem, quantile

HOUR = 3600.0
ME = JobTraits("alloc-1", "kim", "train-run-7", "python train.py", "pytorch-2.5", 4)


def run(runtime_h: float, *, finished_at: float = 0.0, max_runtime_h: float = 24.0, **changes) -> FinishedRun:
    return FinishedRun(replace(ME, **changes), runtime_h * HOUR, max_runtime_h * HOUR, finished_at)


@pytest.mark.parametrize(
    "history, expected_basis, expected_median_h",
    [
        # the same name (numbers aside) and GPUs beats everything else
        (
            [run(1, name="train-run-1"), run(3, name="Train-Run-2"), run(10, name="other", gpus=4)],
            "same_name",
            2,
        ),
        # the same command and environment, under another name
        ([run(5, name="a"), run(7, name="b")], "same_command", 6),
        # the same submitter, size and limit asked for (24 h), another command
        ([run(2, command="x", name="a"), run(4, command="y", name="b")], "same_submitter_limit", 3),
        # ... beats the same submitter and size with another limit
        (
            [
                run(2, command="x", name="a"),
                run(4, command="y", name="b"),
                run(20, command="z", name="c", max_runtime_h=72),
                run(30, command="w", name="d", max_runtime_h=72),
            ],
            "same_submitter_limit",
            3,
        ),
        # the same submitter and size, another command and limit
        (
            [run(2, command="x", name="a", max_runtime_h=4), run(4, command="y", name="b", max_runtime_h=8)],
            "same_submitter_size",
            3,
        ),
        # colleagues in the same allocation with the same GPU count
        (
            [run(8, submitter="lee", command="x"), run(12, submitter="park", command="y")],
            "same_allocation_size",
            10,
        ),
        # anything of the allocation
        (
            [run(1, submitter="lee", gpus=1, command="x"), run(3, submitter="park", gpus=8, command="y")],
            "same_allocation",
            2,
        ),
    ],
)
def test_the_most_specific_history_with_enough_runs_predicts(history, expected_basis, expected_median_h):
    prediction = RuntimeHistory(history).predict(ME, 24 * HOUR)
    assert (prediction.basis, prediction.runtime_s) == (expected_basis, expected_median_h * HOUR)


@pytest.mark.parametrize(
    "history",
    [
        [],  # nothing ran yet
        [run(1)],  # one run is not a history (min_runs = 2)
        [
            run(1, allocation_id="other"),
            run(2, allocation_id="other"),
        ],  # another allocation's jobs never count
    ],
)
def test_without_enough_history_there_is_no_prediction(history):
    assert RuntimeHistory(history).predict(ME, 24 * HOUR) is None


def test_the_range_is_the_10th_to_90th_percentile_of_the_latest_runs_only():
    old = [run(100, finished_at=t) for t in range(5)]  # long ago the job took 100 h
    new = [run(h, finished_at=100 + h) for h in range(1, 11)]  # lately 1..10 h
    prediction = RuntimeHistory(old + new, recent=10).predict(ME, 200 * HOUR)
    assert prediction.runs == 10
    assert (prediction.low_s, prediction.runtime_s, prediction.high_s) == (1.9 * HOUR, 5.5 * HOUR, 9.1 * HOUR)


def test_a_prediction_never_exceeds_the_jobs_own_max_runtime():
    prediction = RuntimeHistory([run(10), run(20), run(30)]).predict(ME, 15 * HOUR)
    assert (prediction.low_s, prediction.runtime_s, prediction.high_s) == (12 * HOUR, 15 * HOUR, 15 * HOUR)


def test_the_programme_wide_fallback_scales_max_runtime():
    history = RuntimeHistory(
        [run(6, max_runtime_h=24, allocation_id="x"), run(12, max_runtime_h=24, allocation_id="y")]
    )
    assert history.predict(ME, 8 * HOUR) is None
    fallback = history.fallback(8 * HOUR)
    assert (fallback.basis, fallback.runtime_s) == ("programme_ratio", 0.375 * 8 * HOUR)


@pytest.mark.parametrize(
    "name, stem", [("train-run-12", "train-run-#"), ("  Train-Run-13 ", "train-run-#"), ("bert", "bert")]
)
def test_name_stems(name, stem):
    assert name_stem(name) == stem


def test_quantile_interpolates_like_numpy():
    assert [quantile([1.0, 2.0, 3.0, 4.0], q) for q in (0.0, 0.1, 0.5, 1.0)] == [1.0, 1.3, 2.5, 4.0]
