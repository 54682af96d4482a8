"""Estimated start times for queued jobs, with a range, from the plan and predicted runtimes.

Counts GPUs per type over time (ignoring how they are spread over nodes), walks the queue in plan
order and books each job at the earliest time enough GPUs are free for its whole expected run. Runs
last what their history predicts (predict.py): the point estimate takes the median runtimes, the range
the 10th and 90th percentiles; a job without a prediction counts its max_runtime, or a fallback (the
programme-wide ratio of runtime to max_runtime) where the caller has one. A running job that outlived
its prediction ends, by the low rule now, by the high rule at its max_runtime. A reserved start is a
promise (running jobs are stopped at their max_runtime), so no estimate for it is later; nor for a job
the plan says will preempt once its victims' grace ends (Plan.preemption_due).
"""

import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.core.model import Plan, Snapshot, WaitReason
from scheduler.core.predict import Prediction


class _Profile:
    """Free GPUs as a step function of time: free[i] holds from times[i] until times[i + 1]."""

    def __init__(self, now: float, free_now: int):
        self.times = [now]
        self.free = [free_now]

    def _split(self, at: float) -> int:
        index = bisect.bisect_right(self.times, at) - 1
        if self.times[index] != at:
            self.times.insert(index + 1, at)
            self.free.insert(index + 1, self.free[index])
            index += 1
        return index

    def add(self, start: float, end: float, delta: int) -> None:
        first, last = self._split(start), self._split(end) if end != float("inf") else len(self.times)
        for i in range(first, last):
            self.free[i] += delta

    def earliest(self, need: int, duration: float) -> float | None:
        for i, start in enumerate(self.times):
            end = start + duration
            j = i
            while j < len(self.times) and self.times[j] < end and self.free[j] >= need:
                j += 1
            if j == len(self.times) or self.times[j] >= end:
                return start
        return None


@dataclass(frozen=True, slots=True)
class StartEstimate:
    at: float  # the point estimate (median runtimes)
    low: float  # by the 10th-percentile runtimes
    high: float  # by the 90th-percentile runtimes, never after a reserved start


Fallback = Callable[[float], Prediction | None]  # max_runtime → a prediction for jobs without history
RULES = ("low", "mid", "high")


def _duration(prediction: Prediction | None, max_runtime_s: float, rule: str) -> float:
    if prediction is None:
        return max_runtime_s
    value = {"low": prediction.low_s, "mid": prediction.runtime_s, "high": prediction.high_s}[rule]
    return min(max(value, 0.0), max_runtime_s)


def _running_end(job, prediction: Prediction | None, now: float, rule: str) -> float:
    """When a running job ends by ``rule``. One that outlived that percentile ends, by the low rule now,
    by the high rule at its 90th percentile or (past that too) its max_runtime, and midway between."""
    bound = max(now, job.expected_end)
    if prediction is None:
        return bound
    end = job.started_at + _duration(prediction, job.max_runtime_s, rule)
    if end >= now:
        return min(end, bound)
    high = job.started_at + _duration(prediction, job.max_runtime_s, "high")
    high = min(high, bound) if high >= now else bound
    return {"low": now, "mid": (now + high) / 2, "high": high}[rule]


def _starts_by(snapshot: Snapshot, decision: Plan, depth: int, fallback: Fallback | None, rule: str):
    now = snapshot.now
    capacity: dict[str, int] = defaultdict(int)
    for node in snapshot.nodes:
        if node.schedulable:
            capacity[node.gpu_type] += node.gpus
    jobs = {job.job_id: job for job in snapshot.queue}

    def predicted(job):
        if job.prediction is not None:
            return job.prediction
        return fallback(job.max_runtime_s) if fallback is not None else None

    victims = {p.job_id for p in decision.preemptions}
    profiles = {gpu_type: _Profile(now, total) for gpu_type, total in capacity.items()}
    for job in snapshot.running:
        if job.gpu_type in profiles:
            end = now if job.job_id in victims else _running_end(job, predicted(job), now, rule)
            profiles[job.gpu_type].add(now, end, -job.gpus)
    for start in decision.starts:
        job = jobs[start.job_id]
        profiles[job.gpu_type].add(now, now + _duration(predicted(job), job.max_runtime_s, rule), -job.gpus)
    promised = {r.job_id: r.start_at for r in decision.reservations}
    due = decision.preemption_due
    estimates: dict[str, float] = {}
    counted: dict[str, int] = defaultdict(int)
    for job_id in decision.order:
        reason = decision.waiting.get(job_id)
        if reason is None or reason in (WaitReason.NEVER_FITS, WaitReason.CONCURRENCY_CAP):
            continue
        job = jobs[job_id]
        if job.gpu_type not in profiles or (job_id not in promised and counted[job.gpu_type] >= depth):
            continue
        counted[job.gpu_type] += 1
        duration = _duration(predicted(job), job.max_runtime_s, rule)
        at = profiles[job.gpu_type].earliest(job.gpus, duration)
        if job_id in promised:
            at = promised[job_id] if at is None else min(at, promised[job_id])
        if job_id in due:  # it preempts then (its victims' grace ends), if nothing frees sooner
            at = due[job_id] if at is None else min(at, due[job_id])
        if at is not None:
            estimates[job_id] = at
            profiles[job.gpu_type].add(at, at + duration, -job.gpus)
    return estimates


def estimate_ranges(
    snapshot: Snapshot, decision: Plan, depth: int = 200, fallback: Fallback | None = None
) -> dict[str, StartEstimate]:
    """Queued job id → its estimated start and range, for up to ``depth`` waiting jobs per GPU type
    (reserved jobs always)."""
    by_rule = {rule: _starts_by(snapshot, decision, depth, fallback, rule) for rule in RULES}
    out = {}
    for job_id, at in by_rule["mid"].items():
        low = by_rule["low"].get(job_id, at)
        high = by_rule["high"].get(job_id, at)
        out[job_id] = StartEstimate(at=at, low=min(low, at), high=max(high, at))
    return out


def estimate_starts(
    snapshot: Snapshot, decision: Plan, depth: int = 200, fallback: Fallback | None = None
) -> dict[str, float]:
    """Queued job id → estimated start (epoch seconds): the point estimates of ``estimate_ranges``."""
    return {job_id: e.at for job_id, e in estimate_ranges(snapshot, decision, depth, fallback).items()}
