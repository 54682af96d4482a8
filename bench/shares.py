"""Tenant shares for trace replay, from what an award would say before the replay window starts.

- ``equal``: every tenant (``vc``) of the trace weighs 1.
- ``proportional``: each tenant weighs the GPU-hours it used in the ``weeks`` (4 by default) before the
  window's first submission, read from a history trace (by default ``philly_jobs_full.csv`` beside a
  slice cut from it). The trace has submissions and durations but no start times, so a history job is
  taken to run from its submission, and only its GPU-hours before the window start count: nothing
  from the window itself or after it leaks into the weights. Tenants of the window without history
  weigh the median of those with history; if none has any, shares are equal.

Used by ``gpugrant`` (allocation weights) and ``static_partition`` (slice sizes).
"""

import csv
import functools
import statistics
from datetime import datetime, timedelta
from pathlib import Path

HISTORY_FILE = "philly_jobs_full.csv"
DEFAULT_HISTORY_WEEKS = 4.0
SHARE_RULES = ("equal", "proportional")


def first_submission(trace) -> datetime | None:
    """The earliest ``submit_time`` of a trace in the Philly format, or None without that column."""
    with open(trace, newline="") as f:
        reader = csv.DictReader(f)
        if "submit_time" not in (reader.fieldnames or ()):
            return None
        return min((datetime.fromisoformat(row["submit_time"]) for row in reader), default=None)


def default_history(trace) -> Path | None:
    """The full trace a slice was cut from, where it sits beside the slice."""
    candidate = Path(trace).resolve().parent / HISTORY_FILE
    return candidate if candidate.exists() else None


@functools.lru_cache(maxsize=4)
def _history_rows(path: str) -> tuple[tuple[str, datetime, float, float], ...]:
    with open(path, newline="") as f:
        return tuple(
            (
                row["vc"],
                datetime.fromisoformat(row["submit_time"]),
                int(row["num_gpus"]),
                float(row["duration_s"]),
            )
            for row in csv.DictReader(f)
        )


def history_gpu_hours(
    history, window_start: datetime, weeks: float = DEFAULT_HISTORY_WEEKS
) -> dict[str, float]:
    """GPU-hours per tenant used in [window_start − weeks, window_start), jobs assumed to run from submission."""
    since = window_start - timedelta(weeks=weeks)
    used: dict[str, float] = {}
    for vc, submitted, gpus, duration_s in _history_rows(str(history)):
        if since <= submitted < window_start:
            ran_s = min(duration_s, (window_start - submitted).total_seconds())
            used[vc] = used.get(vc, 0.0) + max(1, gpus) * ran_s / 3600.0
    return used


def tenant_weights(tenants, shares) -> dict[str, float]:
    """Weight per tenant: ``"equal"``, or a mapping (e.g. history GPU-hours) with the median for the rest."""
    tenants = sorted(set(tenants))
    if shares == "equal":
        return dict.fromkeys(tenants, 1.0)
    if isinstance(shares, str):
        raise ValueError(f"shares {shares!r} need weights (proportional: a history trace)")
    known = [shares[t] for t in tenants if shares.get(t, 0.0) > 0]
    if not known:
        return dict.fromkeys(tenants, 1.0)
    median = statistics.median(known)
    return {t: shares[t] if shares.get(t, 0.0) > 0 else median for t in tenants}


def resolve_shares(
    shares: str, trace=None, history=None, weeks: float = DEFAULT_HISTORY_WEEKS, window_start=None
) -> str | dict[str, float]:
    """What the policies take: ``"equal"``, or the history GPU-hours per tenant for ``proportional``."""
    if shares == "equal":
        return "equal"
    if shares != "proportional":
        raise ValueError(f"unknown shares {shares!r}")
    window_start = window_start or (first_submission(trace) if trace else None)
    history = history or (default_history(trace) if trace else None)
    if window_start is None or history is None:
        raise ValueError(
            "--shares proportional needs the window's start (a submit_time column in the trace) and a "
            f"history trace (--history, or {HISTORY_FILE} beside the trace)"
        )
    return history_gpu_hours(history, window_start, weeks)
