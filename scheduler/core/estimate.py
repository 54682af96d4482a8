"""Estimated start times for queued jobs, from reservations and every running job's max_runtime.

Counts GPUs per type over time (ignoring how they are spread over nodes), walks the queue in plan
order and books each job at the earliest time enough GPUs are free for its whole max_runtime. It is
an estimate — jobs usually end before their max_runtime — but never later than what the reserved
starts promise.
"""

import bisect
from collections import defaultdict

from scheduler.core.model import Plan, Snapshot, WaitReason


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


def estimate_starts(snapshot: Snapshot, decision: Plan, depth: int = 200) -> dict[str, float]:
    """Queued job id → estimated start (epoch seconds), for up to ``depth`` waiting jobs per GPU type."""
    now = snapshot.now
    capacity: dict[str, int] = defaultdict(int)
    for node in snapshot.nodes:
        if node.schedulable:
            capacity[node.gpu_type] += node.gpus
    jobs = {job.job_id: job for job in snapshot.queue}
    victims = {p.job_id for p in decision.preemptions}
    profiles = {gpu_type: _Profile(now, total) for gpu_type, total in capacity.items()}
    for job in snapshot.running:
        if job.gpu_type in profiles:
            end = now if job.job_id in victims else max(now, job.expected_end)
            profiles[job.gpu_type].add(now, end, -job.gpus)
    for start in decision.starts:
        job = jobs[start.job_id]
        profiles[job.gpu_type].add(now, now + job.max_runtime_s, -job.gpus)
    estimates: dict[str, float] = {}
    for reservation in decision.reservations:
        job = jobs[reservation.job_id]
        estimates[job.job_id] = reservation.start_at
        profiles[job.gpu_type].add(reservation.start_at, reservation.start_at + job.max_runtime_s, -job.gpus)
    counted: dict[str, int] = defaultdict(int)
    for job_id in decision.order:
        reason = decision.waiting.get(job_id)
        if (
            reason is None
            or job_id in estimates
            or reason in (WaitReason.NEVER_FITS, WaitReason.CONCURRENCY_CAP)
        ):
            continue
        job = jobs[job_id]
        if counted[job.gpu_type] >= depth or job.gpu_type not in profiles:
            continue
        counted[job.gpu_type] += 1
        at = profiles[job.gpu_type].earliest(job.gpus, job.max_runtime_s)
        if at is not None:
            estimates[job_id] = at
            profiles[job.gpu_type].add(at, at + job.max_runtime_s, -job.gpus)
    return estimates
