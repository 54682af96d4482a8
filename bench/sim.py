"""A discrete-event cluster simulator in virtual time, for trace replay (pure Python, no Django).

The cluster is ``gpus / gpus_per_node`` nodes of one GPU type. Jobs arrive at ``submit_s``; a job of at
most one node's GPUs is one pod, a larger job takes ``ceil(gpus / gpus_per_node)`` whole nodes (pods of
``gpus_per_node``). At every event time (arrivals and completions at the same instant are coalesced)
the policy is asked for a decision: the jobs to start, with their placements, and the running jobs to
preempt. A preempted job goes back to the queue; it loses its progress unless it is checkpointable
(``--preemptible``), and every restart costs ``restart_cost_s`` of extra run time on its GPUs.

The policy sees the true duration only through the completion event, except the oracle, which is told.
"""

import csv
import heapq
import math
import statistics
from dataclasses import dataclass, field

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass
class Job:
    job_id: str
    vc: str
    submit_s: float
    num_gpus: int
    duration_s: float
    gpus_per_pod: int = 0
    pods: int = 0
    max_runtime_s: float = 0.0
    checkpointable: bool = False
    # simulation state
    remaining_s: float = 0.0  # run time still needed (true duration left, plus restart costs)
    attained_gpu_s: float = 0.0  # GPU-seconds executed so far, all runs (LAS)
    started_at: float | None = None  # current run
    first_start: float | None = None
    finished_at: float | None = None
    placement: tuple = ()  # ((node index, (gpu indices...)), ...)
    generation: int = 0  # bumped on preemption, so a stale completion event is ignored
    preemptions: int = 0

    @property
    def gpus(self) -> int:
        return self.gpus_per_pod * self.pods


def load_trace(path) -> list[Job]:
    jobs = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            jobs.append(
                Job(
                    job_id=str(row["job_id"]),
                    vc=row["vc"],
                    submit_s=float(row["submit_s"]),
                    num_gpus=max(1, int(row["num_gpus"])),
                    duration_s=max(1.0, float(row["duration_s"])),
                )
            )
    jobs.sort(key=lambda j: (j.submit_s, int(j.job_id) if j.job_id.isdigit() else 0, j.job_id))
    return jobs


# max_runtime rules: the product never sees the duration, only this estimate derived from it.
def rule_hour(duration_s: float) -> float:
    """Rounded up to the next whole hour (at least one hour)."""
    return max(1, math.ceil(duration_s / HOUR)) * HOUR


def rule_2x(duration_s: float) -> float:
    """Twice the duration, capped at 7 days, but never below the duration itself."""
    return max(duration_s, min(2 * duration_s, 7 * DAY))


def rule_exact(duration_s: float) -> float:
    """The true duration (a perfect estimate; for comparison only)."""
    return duration_s


RUNTIME_RULES = {"hour": rule_hour, "2x": rule_2x, "exact": rule_exact}


class Sim:
    def __init__(
        self,
        jobs: list[Job],
        gpus: int,
        gpus_per_node: int = 8,
        runtime_rule: str = "hour",
        preemptible: bool = False,
        restart_cost_s: float = 300.0,
        check: bool = False,
        cycle_s: float = 0.0,
    ):
        self.cycle_s = cycle_s
        if gpus % gpus_per_node:
            raise ValueError("gpus must be a multiple of gpus_per_node")
        self.gpn = gpus_per_node
        self.n_nodes = gpus // gpus_per_node
        self.total_gpus = gpus
        self.free: list[list[int]] = [list(range(gpus_per_node)) for _ in range(self.n_nodes)]
        self.restart_cost_s = restart_cost_s
        self.check = check
        rule = RUNTIME_RULES[runtime_rule]
        self.jobs = jobs
        for job in jobs:
            if job.num_gpus <= gpus_per_node:
                job.gpus_per_pod, job.pods = job.num_gpus, 1
            else:
                job.gpus_per_pod, job.pods = gpus_per_node, math.ceil(job.num_gpus / gpus_per_node)
            job.max_runtime_s = rule(job.duration_s)
            job.checkpointable = preemptible
            job.remaining_s = job.duration_s
        self.queue: dict[str, Job] = {}  # insertion order = arrival (or requeue) order
        self.running: dict[str, Job] = {}
        self.done: list[Job] = []
        self.now = 0.0
        self.busy_gpus = 0
        self.busy_log: list[tuple[float, int]] = []  # (time, busy GPUs from then on)
        self.preemptions = 0
        self.gpu_s_lost = 0.0
        self.max_busy = 0

    # -- cluster -------------------------------------------------------------------------------
    def free_count(self, node: int) -> int:
        return len(self.free[node])

    def _take(self, job: Job, placement) -> None:
        if self.check:
            assert len(placement) == job.pods, (job.job_id, placement)
            nodes = [n for n, _ in placement]
            assert len(set(nodes)) == len(nodes) or job.pods == 1 or job.gpus_per_pod < self.gpn
            for node, idx in placement:
                assert len(idx) == job.gpus_per_pod, (job.job_id, placement)
                assert set(idx) <= set(self.free[node]), f"GPU over-allocated on node {node}: {job.job_id}"
                if job.pods > 1:
                    assert len(idx) == self.gpn, "a multi-node job must get whole nodes"
        for node, idx in placement:
            taken = set(idx)
            self.free[node] = [g for g in self.free[node] if g not in taken]
        self.busy_gpus += job.gpus
        if self.check:
            assert 0 <= self.busy_gpus <= self.total_gpus
            assert sum(len(f) for f in self.free) == self.total_gpus - self.busy_gpus
        self.max_busy = max(self.max_busy, self.busy_gpus)

    def _release(self, job: Job) -> None:
        for node, idx in job.placement:
            self.free[node] = sorted(self.free[node] + list(idx))
            if self.check:
                assert len(self.free[node]) <= self.gpn
        self.busy_gpus -= job.gpus
        job.placement = ()

    # -- transitions ---------------------------------------------------------------------------
    def start(self, job: Job, placement) -> None:
        self._take(job, placement)
        del self.queue[job.job_id]
        job.placement = tuple(placement)
        job.started_at = self.now
        if job.first_start is None:
            job.first_start = self.now
        self.running[job.job_id] = job
        heapq.heappush(self._events, (self.now + job.remaining_s, 1, job.job_id, job.generation))

    def preempt(self, job: Job) -> None:
        ran = self.now - job.started_at
        job.attained_gpu_s += ran * job.gpus
        if job.checkpointable:
            job.remaining_s = max(0.0, job.remaining_s - ran) + self.restart_cost_s
            self.gpu_s_lost += self.restart_cost_s * job.gpus
        else:
            job.remaining_s = job.duration_s + self.restart_cost_s
            # the whole run's work is lost, plus the restart
            self.gpu_s_lost += (min(ran, job.duration_s) + self.restart_cost_s) * job.gpus
        job.generation += 1
        job.preemptions += 1
        self.preemptions += 1
        self._release(job)
        del self.running[job.job_id]
        job.started_at = None
        self.queue[job.job_id] = job

    def _finish(self, job: Job) -> None:
        job.attained_gpu_s += (self.now - job.started_at) * job.gpus
        job.finished_at = self.now
        self._release(job)
        del self.running[job.job_id]
        self.done.append(job)

    def attained(self, job: Job) -> float:
        if job.started_at is None:
            return job.attained_gpu_s
        return job.attained_gpu_s + (self.now - job.started_at) * job.gpus

    # -- loop ----------------------------------------------------------------------------------
    def run(self, policy) -> None:
        self._events: list = []
        for i, job in enumerate(self.jobs):
            heapq.heappush(self._events, (job.submit_s, 0, job.job_id, i))
        by_id = {job.job_id: job for job in self.jobs}
        policy.setup(self)
        while self._events:
            self.now = self._events[0][0]
            if self.cycle_s > 0:  # decide once per scheduling cycle, at its end, on all its events
                self.now = math.ceil(self.now / self.cycle_s) * self.cycle_s
            while self._events and self._events[0][0] <= self.now:
                t, kind, job_id, gen = heapq.heappop(self._events)
                job = by_id[job_id]
                if kind == 1 and t < self.now and job.job_id in self.running and job.generation == gen:
                    # a completion inside the cycle: its GPUs were free from then on
                    self.busy_log.append((t, self.busy_gpus - job.gpus))
                    saved, self.now = self.now, t
                    self._finish(job)
                    self.now = saved
                    continue
                if kind == 0:
                    self.queue[job_id] = job
                elif job.job_id in self.running and job.generation == gen:
                    self._finish(job)
            before = self.busy_gpus
            for _ in range(4):  # decide again at once after preemptions free GPUs
                starts, victims = policy.decide(self)
                for victim in victims:
                    self.preempt(victim)
                for job, placement in starts:
                    self.start(job, placement)
                if not victims or not getattr(policy, "replan_after_preemption", True):
                    break
            if self.busy_gpus != before or not self.busy_log:
                self.busy_log.append((self.now, self.busy_gpus))
        if self.check:
            assert not self.queue and not self.running, "jobs left over: some job never fits the cluster"
            assert self.busy_gpus == 0


# -- placement helpers shared by the reference policies -----------------------------------------
def best_fit(sim: Sim, free: list[int], job: Job):
    """Placement for ``job`` on per-node free counts ``free`` (best fit; whole nodes for gangs), or None.

    ``free`` is updated in place when it fits. Returns [(node, count)], counts only.
    """
    g = job.gpus_per_pod
    if job.pods == 1:
        best, best_free = None, sim.gpn + 1
        for node, f in enumerate(free):
            if g <= f < best_free:
                best, best_free = node, f
                if f == g:
                    break
        if best is None:
            return None
        free[best] -= g
        return [(best, g)]
    whole = [node for node, f in enumerate(free) if f >= g]
    if len(whole) < job.pods:
        return None
    chosen = whole[: job.pods]
    for node in chosen:
        free[node] -= g
    return [(node, g) for node in chosen]


def materialise(sim: Sim, counts, pending: dict[int, list[int]]):
    """Turn [(node, count)] into [(node, gpu indices)], drawing from ``pending`` (node → free indices)."""
    out = []
    for node, count in counts:
        avail = pending.setdefault(node, list(sim.free[node]))
        out.append((node, tuple(avail[:count])))
        del avail[:count]
    return out


# -- metrics --------------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Metrics:
    values: dict = field(default_factory=dict)


def metrics(sim: Sim) -> dict:
    jobs = sim.done
    jct = [j.finished_at - j.submit_s for j in jobs]
    queue = [j.first_start - j.submit_s for j in jobs]
    first = min(j.submit_s for j in sim.jobs)
    last_submit = max(j.submit_s for j in sim.jobs)
    end = max(j.finished_at for j in jobs) if jobs else first
    # busy GPU-seconds within the submission window
    busy, window_end = 0.0, last_submit if last_submit > first else end
    log = sim.busy_log + [(end, 0)]
    for (t0, b), (t1, _) in zip(log, log[1:], strict=False):
        lo, hi = max(t0, first), min(t1, window_end)
        if hi > lo:
            busy += b * (hi - lo)
    utilization = busy / (sim.total_gpus * (window_end - first)) if window_end > first else 0.0
    per_vc: dict[str, list[Job]] = {}
    for j in jobs:
        per_vc.setdefault(j.vc, []).append(j)
    tenants = {}
    inv = []
    for vc, js in sorted(per_vc.items()):
        slow = statistics.fmean((j.finished_at - j.submit_s) / j.duration_s for j in js)
        qd = [j.first_start - j.submit_s for j in js]
        tenants[vc] = {
            "jobs": len(js),
            "avg_slowdown": round(slow, 3),
            "avg_jct_s": round(statistics.fmean(j.finished_at - j.submit_s for j in js), 1),
            "p99_queue_s": round(_pct(qd, 0.99), 1),
            "max_queue_s": round(max(qd), 1),
        }
        inv.append(1.0 / slow)
    jain = (sum(inv) ** 2) / (len(inv) * sum(x * x for x in inv)) if inv else 1.0
    return {
        "jobs_completed": len(jobs),
        "jobs_total": len(sim.jobs),
        "avg_jct_s": round(statistics.fmean(jct), 1) if jct else 0.0,
        "median_jct_s": round(statistics.median(jct), 1) if jct else 0.0,
        "avg_queue_s": round(statistics.fmean(queue), 1) if queue else 0.0,
        "p95_queue_s": round(_pct(queue, 0.95), 1),
        "p99_queue_s": round(_pct(queue, 0.99), 1),
        "max_queue_s": round(max(queue), 1) if queue else 0.0,
        "utilization": round(utilization, 4),
        "makespan_s": round(end - first, 1),
        "jain_index": round(jain, 4),
        "preemptions": sim.preemptions,
        "gpu_hours_lost": round(sim.gpu_s_lost / HOUR, 2),
        "lower_bound_avg_jct_s": round(statistics.fmean(j.duration_s for j in sim.jobs), 1),
        "max_busy_gpus": sim.max_busy,
        "tenants": tenants,
    }
