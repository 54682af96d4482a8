"""Estimated start times for queued jobs, with a range, from the plan and predicted runtimes.

Keeps each node's free GPUs over time (and their sum per GPU type), walks the queue in plan order and
books each job at the earliest time its pods fit on nodes of one cluster for its whole expected run, as
the plan places them: a pod on one node, a gang in one cluster. (Counting GPUs per type alone said "now"
to an 8-GPU job while 50 GPUs were free in scraps of one to seven.) Runs last what their history
predicts (predict.py): the point estimate takes the median runtimes, the range the 10th and 90th
percentiles; a job without a prediction counts its max_runtime, or a fallback (the programme-wide ratio
of runtime to max_runtime) where the caller has one. A running job that outlived its prediction ends, by
the low rule now, by the high rule at its max_runtime. A reserved start is a promise (running jobs are
stopped at their max_runtime), so no estimate for it is later; nor for a job the plan says will preempt
once its victims' grace ends (Plan.preemption_due).
"""

import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

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

    def earliest(self, need: int, duration: float, after: float | None = None) -> float | None:
        """The first time (from ``after``, or the profile's start) ``need`` GPUs stay free for ``duration``."""
        times, free, n = self.times, self.free, len(self.times)
        i = 0 if after is None else bisect.bisect_right(times, after) - 1
        while i < n:
            if free[i] < need:
                i += 1
                continue
            start = times[i] if after is None else max(times[i], after)
            j = i + 1
            while j < n and times[j] < start + duration and free[j] >= need:
                j += 1
            if j == n or times[j] >= start + duration:
                return start
            i = j + 1  # too few free at times[j]: no window starting before it can hold
        return None

    def min_free(self, start: float, end: float) -> int:
        """The fewest GPUs free at any moment of [start, end)."""
        i = bisect.bisect_right(self.times, start) - 1
        low = self.free[i]
        for j in range(i + 1, len(self.times)):
            if self.times[j] >= end:
                break
            low = min(low, self.free[j])
        return low


class _Fleet:
    """One GPU type's schedulable nodes: each one's free GPUs over time, their sum, and its cluster."""

    def __init__(self, now: float, nodes, busy):
        """``busy``: (node, until, GPUs) for what runs now: running jobs and the plan's starts."""
        self.nodes = {n.name: _Profile(now, n.gpus) for n in nodes}
        self.size = {n.name: n.gpus for n in nodes}
        self.pools: dict[str, list[str]] = defaultdict(list)
        for n in nodes:
            self.pools[n.cluster].append(n.name)
        releases: dict[float, int] = defaultdict(int)
        for node, until, gpus in busy:
            if node in self.nodes and until > now:  # not a cordoned node; not a victim stopping now
                self.nodes[node].add(now, until, -gpus)
                releases[until] += gpus
        # the sum in one pass: adding tens of thousands of running jobs one by one is quadratic
        self.total = _Profile(now, sum(self.size.values()) - sum(releases.values()))
        for until in sorted(releases):
            if until != float("inf"):
                self.total.times.append(until)
                self.total.free.append(self.total.free[-1] + releases[until])

    def take(self, node: str, start: float, end: float, gpus: int) -> None:
        profile = self.nodes.get(node)
        if profile is not None:  # not a cordoned node
            profile.add(start, end, -gpus)
            self.total.add(start, end, -gpus)

    def book(self, job, duration: float, latest: float | None = None, nodes=()) -> float | None:
        """Book ``job`` at the earliest time all its pods fit on nodes of one cluster for ``duration``
        (fullest nodes first, as the plan places them), or at ``latest`` on ``nodes`` (a reservation's,
        which the plan keeps for it) if that is sooner; that time, or None if neither. A preemptor due at
        ``latest`` has no nodes and books nothing: the victims whose GPUs it will take still count as
        running here, so booking it too would count those GPUs twice."""
        found = self._earliest_fit(job, duration)
        if found is not None and (latest is None or found[0] <= latest):
            start, fit = found
        elif latest is not None:
            start, fit, left = latest, [], job.gpus
            for name in nodes:
                if left > 0 and name in self.size:
                    fit.append((name, min(left, self.size[name])))
                    left -= fit[-1][1]
        else:
            return None
        for name, gpus in fit:
            self.take(name, start, start + duration, gpus)
        return start

    def _earliest_fit(self, job, duration: float):
        at = self.total.earliest(job.gpus, duration)  # enough GPUs in all: nothing fits sooner
        if at is None:
            return None
        g = job.gpus_per_pod
        pools = [p for p in sorted(self.pools) if job.clusters is None or p in job.clusters]
        for pool in pools:  # mostly it fits as soon as enough GPUs are free
            fit = self._fit(self.pools[pool], g, job.pods, at, duration)
            if fit is not None:
                return at, fit
        # per cluster, its nodes by when each first has a pod's GPUs free for the whole run: a node
        # cannot take a pod before that, so only times when enough of them could are worth checking
        ready = {
            pool: sorted(
                (t, name)
                for name in self.pools[pool]
                if self.size[name] >= g
                and (t := self.nodes[name].earliest(g, duration, after=at)) is not None
            )
            for pool in pools
        }
        seen = dict.fromkeys(pools, 0)
        could = dict.fromkeys(pools, 0)
        times = self.total.times
        for i in range(bisect.bisect_right(times, at) - 1, len(times)):
            start = max(times[i], at)
            for pool in pools:
                nodes = ready[pool]
                while seen[pool] < len(nodes) and nodes[seen[pool]][0] <= start:
                    could[pool] += self.size[nodes[seen[pool]][1]] // g
                    seen[pool] += 1
                if could[pool] < job.pods:
                    continue
                fit = self._fit([name for _, name in nodes[: seen[pool]]], g, job.pods, start, duration)
                if fit is not None:
                    return start, fit
        return None

    def _fit(self, names, g: int, pods: int, start: float, duration: float):
        """[(node, GPUs)] for ``pods`` pods of ``g`` GPUs free throughout [start, start + duration), the
        fullest nodes (at ``start``) first, as the plan fills them; None if they do not fit."""
        candidates = []
        for name in names:
            profile = self.nodes[name]
            free = profile.free[bisect.bisect_right(profile.times, start) - 1]
            if free >= g:
                candidates.append((free, name))
        candidates.sort()
        fit, remaining = [], pods
        for _, name in candidates:
            k = min(self.nodes[name].min_free(start, start + duration) // g, remaining)
            if k > 0:
                fit.append((name, k * g))
                remaining -= k
                if remaining == 0:
                    return fit
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


def _starts_by(
    snapshot: Snapshot, decision: Plan, depth: int, fallback: Fallback | None, rule: str, by_node: bool
):
    now = snapshot.now
    by_type = defaultdict(list)
    for node in snapshot.nodes:
        if node.schedulable:
            by_type[node.gpu_type].append(node)
    where = {node.name: node.name for node in snapshot.nodes}
    if not by_node:  # the type's GPUs as one node: a count of free GPUs over time (a baseline to compare)
        where = {node.name: node.gpu_type for node in snapshot.nodes}
        by_type = {
            gpu_type: [replace(nodes[0], name=gpu_type, gpus=sum(n.gpus for n in nodes), cluster="")]
            for gpu_type, nodes in by_type.items()
        }
    jobs = {job.job_id: job for job in snapshot.queue}

    def predicted(job):
        if job.prediction is not None:
            return job.prediction
        return fallback(job.max_runtime_s) if fallback is not None else None

    victims = {p.job_id for p in decision.preemptions}
    busy = defaultdict(list)
    for job in snapshot.running:
        end = now if job.job_id in victims else _running_end(job, predicted(job), now, rule)
        busy[job.gpu_type].extend((where.get(pod.node), end, len(pod.gpu_indices)) for pod in job.pods)
    for start in decision.starts:
        job = jobs[start.job_id]
        end = now + _duration(predicted(job), job.max_runtime_s, rule)
        busy[job.gpu_type].extend((where.get(pod.node), end, len(pod.gpu_indices)) for pod in start.pods)
    fleets = {gpu_type: _Fleet(now, nodes, busy[gpu_type]) for gpu_type, nodes in by_type.items()}
    promised = {r.job_id: r for r in decision.reservations}
    due = decision.preemption_due
    estimates: dict[str, float] = {}
    counted: dict[str, int] = defaultdict(int)
    for job_id in decision.order:
        reason = decision.waiting.get(job_id)
        if reason is None or reason in (WaitReason.NEVER_FITS, WaitReason.CONCURRENCY_CAP):
            continue
        job = jobs[job_id]
        if job.gpu_type not in fleets or (job_id not in promised and counted[job.gpu_type] >= depth):
            continue
        counted[job.gpu_type] += 1
        # no later than its reservation (a promise), or than when it will preempt (its victims' grace ends)
        reservation = promised.get(job_id)
        latest = min(
            reservation.start_at if reservation is not None else float("inf"), due.get(job_id, float("inf"))
        )
        at = fleets[job.gpu_type].book(
            job,
            _duration(predicted(job), job.max_runtime_s, rule),
            latest if latest != float("inf") else None,
            tuple(where.get(n) for n in reservation.nodes) if reservation is not None else (),
        )
        if at is not None:
            estimates[job_id] = at
    return estimates


def estimate_ranges(
    snapshot: Snapshot,
    decision: Plan,
    depth: int = 200,
    fallback: Fallback | None = None,
    by_node: bool = True,
) -> dict[str, StartEstimate]:
    """Queued job id → its estimated start and range, for up to ``depth`` waiting jobs per GPU type
    (reserved jobs always). ``by_node=False`` counts the type's free GPUs instead of booking pods on nodes
    (the estimator before 2026-12-07, kept as the benchmark's baseline)."""
    by_rule = {rule: _starts_by(snapshot, decision, depth, fallback, rule, by_node) for rule in RULES}
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
