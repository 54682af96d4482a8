"""Splitting a staged award (quotas/rounds/stages.py): hours in proportion to months, whole, adding up;
dates consecutive from the start, the last ending with the award."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quotas.rounds.stages import add_months, split_hours, stage_dates


@pytest.mark.parametrize(
    "hours, months, parts",
    [
        (2_000, [5, 5], [1_000, 1_000]),
        (1_001, [5, 5], [500, 501]),  # the remainder goes to the last stage
        (900, [1, 2], [300, 600]),
        (7, [3, 3, 3], [2, 2, 3]),
        (500, [], [500]),
        (500, [12], [500]),
    ],
)
def test_hours_split_in_proportion_to_months(hours, months, parts):
    assert split_hours(hours, months) == parts


@given(st.integers(0, 10_000_000), st.lists(st.integers(1, 60), min_size=1, max_size=6))
def test_the_parts_are_whole_and_add_up(hours, months):
    parts = split_hours(hours, months)
    assert sum(parts) == hours and len(parts) == len(months) and all(p >= 0 for p in parts)


@pytest.mark.parametrize(
    "start, end, months, dates",
    [
        (date(2026, 3, 1), date(2026, 12, 31), [5, 5],
         [(date(2026, 3, 1), date(2026, 7, 31)), (date(2026, 8, 1), date(2026, 12, 31))]),
        (date(2026, 1, 31), date(2026, 6, 30), [1, 5],
         [(date(2026, 1, 31), date(2026, 2, 27)), (date(2026, 2, 28), date(2026, 6, 30))]),
        (date(2026, 3, 1), date(2026, 4, 15), [5, 5],  # a short award: no stage ends after it
         [(date(2026, 3, 1), date(2026, 4, 15)), (date(2026, 4, 15), date(2026, 4, 15))]),
    ],
)  # fmt: skip
def test_stage_dates_follow_each_other_and_end_with_the_award(start, end, months, dates):
    assert stage_dates(start, end, months) == dates


def test_months_are_added_to_the_last_day_a_month_has():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
