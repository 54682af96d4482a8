"""Splitting a staged award: its GPU-hours over the stages in proportion to their months, and each stage's
dates, consecutive from the award's start (the last stage ends with the award)."""

import calendar
from datetime import date, timedelta


def split_hours(hours: int, months: list[int]) -> list[int]:
    """Whole GPU-hours per stage, in proportion to the months; the remainder goes to the last stage, so
    the parts add up to ``hours`` exactly."""
    if not months:
        return [hours]
    total = sum(months)
    parts = [hours * m // total for m in months[:-1]]
    return [*parts, hours - sum(parts)]


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def stage_dates(start: date, end: date, months: list[int]) -> list[tuple[date, date]]:
    """(first day, last day) of each stage; none ends after ``end``, the last ends on it."""
    if not months:
        return [(start, end)]
    dates, first = [], start
    for index, m in enumerate(months):
        last = end if index == len(months) - 1 else min(end, add_months(first, m) - timedelta(days=1))
        dates.append((first, last))
        first = min(end, last + timedelta(days=1))
    return dates
