"""A discrete-event cluster simulator in virtual time, for trace replay (pure Python, no Django).

The cluster is ``gpus / gpus_per_node`` nodes of one GPU type. Jobs arrive at ``submit_s``; a job of at
most one node's GPUs is one pod, a larger job takes ``ceil(gpus / gpus_per_node)`` whole nodes (pods of
``gpus_per_node``). At every event time (arrivals and completions at the same instant are coalesced)
the policy is asked for a decision: the jobs to start, with their placements, and the running jobs to
preempt. A preempted job goes back to the queue; it loses its progress unless it is checkpointable
(``--preemptible``), and every restart costs ``restart_cost_s`` of extra run time on its GPUs.

Each job asks for a ``max_runtime`` given by a runtime-estimate rule (``RUNTIME_RULES``). As the
product's backend does, a run that reaches its ``max_runtime`` is killed: the job ends there, counted in
``jobs_killed``, its JCT up to the kill. The limit applies per run (a restarted job gets it afresh, and
a restart's cost is run time inside it, so a tight estimate can kill a restarted job).

The rules, from what a real user could know to what only an oracle knows:

- ``user`` (the default and the headline): a model of how people estimate, after Tsafrir, Etsion and
  Feitelson, "Modeling user runtime estimates" (JSSPP 2005). Users pick round "modal" values
  (``USER_MODAL_S``: 15 min, 30 min, 1, 2, 4, 8, 12, 24, 48, 72 h and the maximum) at or above the
  true duration, overestimating widely: with probability ``USER_ASKS_MAX`` (15 %; the paper sees
  10–20 % of jobs at the maximum) the job asks for the maximum; otherwise the estimate is the smallest
  modal value ≥ duration × f, f log-uniform in [1, ``USER_MAX_FACTOR`` = 20] (median ≈ 4.5), the
  maximum if none is. The draws come from SHA-256 of the job id, so a job gets the same estimate under
  every policy and in every run. A job longer than the maximum (the trace has some; the product would
  have refused it) asks for its duration rounded up to whole days, so that ``user`` kills nothing
  (only ``none`` applies the cap to them). It uses the true duration only as users do: they know
  roughly how long their job takes and round up generously.
- ``none``: no estimate at all: every job asks for the product's maximum, ``MAX_RUNTIME_S`` (7 days,
  the default of ``GPUGRANT_MAX_RUNTIME_MINUTES`` in portal/settings.py, which scheduler/job_fields.py
  names as the longest run time). Jobs longer than that are killed at it.
- Oracle-derived (they rank jobs exactly as their true durations do, which no real user's estimates
  do): ``hour`` = the duration rounded up to the next whole hour; ``2x`` = twice the duration, capped
  at 7 days but never below the duration; ``exact`` = the true duration.

Policies see the true duration only through the completion event and these estimates, except the
oracle SJF, which is told.

A policy may also expose ``never_fits(sim, job) -> bool`` (asked once, on arrival: such a job is set
aside in ``sim.never_fit`` and never queued) and ``estimates(sim) -> {job_id: (start, low, high)}``
(asked after each decision while some waiting job has never been given an estimate; each job's FIRST
estimate is kept and compared with its actual first start in ``metrics``).
"""

import csv
import hashlib
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
    run_hits_limit: bool = False  # the current run needs more than max_runtime: it will be killed
    killed: bool = False  # ended by reaching its max_runtime
    first_estimate: tuple | None = None  # (given at, start, low, high): the first estimate it was given

    @property
    def gpus(self) -> int:
        return self.gpus_per_pod * self.pods


def load_trace(path) -> list[Job]:
    with open(path, newline="") as f:
        return jobs_from_rows(csv.DictReader(f))


def jobs_from_rows(rows) -> list[Job]:
    """Jobs from trace rows (dicts with job_id, vc, submit_s, num_gpus, duration_s), by submission."""
    jobs = [
        Job(
            job_id=str(row["job_id"]),
            vc=row["vc"],
            submit_s=float(row["submit_s"]),
            num_gpus=max(1, int(row["num_gpus"])),
            duration_s=max(1.0, float(row["duration_s"])),
        )
        for row in rows
    ]
    jobs.sort(key=lambda j: (j.submit_s, int(j.job_id) if j.job_id.isdigit() else 0, j.job_id))
    return jobs


# The product's longest max_runtime: portal/settings.py GPUGRANT_MAX_RUNTIME_MINUTES = 7 * 24 * 60 by default
# (scheduler/job_fields.py points there). tests/bench checks the two agree.
MAX_RUNTIME_S = 7 * DAY


USER_MODAL_S = tuple(h * HOUR for h in (0.25, 0.5, 1, 2, 4, 8, 12, 24, 48, 72)) + (MAX_RUNTIME_S,)
USER_ASKS_MAX = 0.15
USER_MAX_FACTOR = 20.0


# max_runtime rules: the product never sees the duration, only this estimate. Each takes the true
# duration and the job id (only ``user`` uses the id, as its seed).
def rule_user(duration_s: float, job_id: str = "") -> float:
    """A user's estimate: a round modal value well above the duration (module docstring)."""
    if duration_s > MAX_RUNTIME_S:
        return math.ceil(duration_s / DAY) * DAY
    asks_max, spread = _uniforms(job_id)
    if asks_max < USER_ASKS_MAX:
        return MAX_RUNTIME_S
    wanted = duration_s * USER_MAX_FACTOR**spread  # log-uniform factor in [1, USER_MAX_FACTOR]
    return next((m for m in USER_MODAL_S if m >= wanted), MAX_RUNTIME_S)


def _uniforms(job_id: str) -> tuple[float, float]:
    """Two independent uniforms in [0, 1) from the job id alone (not Python's salted hash())."""
    digest = hashlib.sha256(f"user-estimate:{job_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:16], "big") / 2**64


def rule_none(duration_s: float, job_id: str = "") -> float:
    """No estimate: every job asks for the product's maximum."""
    return MAX_RUNTIME_S


def rule_hour(duration_s: float, job_id: str = "") -> float:
    """Oracle-derived: rounded up to the next whole hour (at least one hour)."""
    return max(1, math.ceil(duration_s / HOUR)) * HOUR


def rule_2x(duration_s: float, job_id: str = "") -> float:
    """Oracle-derived: twice the duration, capped at 7 days, but never below the duration itself."""
    return max(duration_s, min(2 * duration_s, 7 * DAY))


def rule_exact(duration_s: float, job_id: str = "") -> float:
    """Oracle: the true duration (a perfect estimate; for comparison only)."""
    return duration_s


RUNTIME_RULES = {"user": rule_user, "none": rule_none, "hour": rule_hour, "2x": rule_2x, "exact": rule_exact}
ORACLE_DERIVED_RULES = ("hour", "2x", "exact")
DEFAULT_RULE = "user"
RULE_HELP = (
    "max_runtime each job asks for: user (default; a seeded model of users' round, generous estimates), "
    "none (every job asks for the 7-day maximum), or the oracle-derived hour, 2x, exact (computed from "
    "the true duration: they rank jobs exactly as their durations do, which no user's estimates do)"
)


def parse_clusters(spec: str) -> tuple[tuple[str, int], ...]:
    """``"a:128,b:256,c:128"`` → (("a", 128), ("b", 256), ("c", 128)): clusters and their GPUs."""
    clusters = []
    for part in spec.split(","):
        name, _, gpus = part.strip().partition(":")
        if not name or not gpus.isdigit() or int(gpus) <= 0:
            raise ValueError(f"--clusters: {part!r} is not NAME:GPUS")
        clusters.append((name, int(gpus)))
    if len({name for name, _ in clusters}) != len(clusters):
        raise ValueError("--clusters: a cluster is named twice")
    return tuple(clusters)


def node_clusters(clusters, gpus: int, gpus_per_node: int) -> list[str]:
    """Each node's cluster, in the order given (nodes 0.. to the first cluster, and so on); one
    cluster named "" where none are given."""
    if not clusters:
        return [""] * (gpus // gpus_per_node)
    if sum(size for _, size in clusters) != gpus or any(size % gpus_per_node for _, size in clusters):
        raise ValueError(f"--clusters must sum to --gpus ({gpus}), each a multiple of {gpus_per_node}")
    return [name for name, size in clusters for _ in range(size // gpus_per_node)]


DECIDE = 2  # event kind: a decision with nothing else happening (arrivals are 0, completions 1)


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
        clusters: tuple[tuple[str, int], ...] | None = None,
    ):
        self.cycle_s = cycle_s
        if gpus % gpus_per_node:
            raise ValueError("gpus must be a multiple of gpus_per_node")
        self.gpn = gpus_per_node
        self.n_nodes = gpus // gpus_per_node
        self.node_cluster = node_clusters(clusters, gpus, gpus_per_node)  # node index → its cluster
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
            job.max_runtime_s = rule(job.duration_s, job.job_id)
            job.checkpointable = preemptible
            job.remaining_s = job.duration_s
        self.queue: dict[str, Job] = {}  # insertion order = arrival (or requeue) order
        self.running: dict[str, Job] = {}
        self.done: list[Job] = []  # ended: ran to completion or killed at max_runtime
        self.never_fit: list[Job] = []  # set aside on arrival by the policy's never_fits
        self.awaiting_estimate: set[str] = set()  # queued, never started, never given an estimate
        self.first_started: list[Job] = []  # jobs in the order of their first start
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
            clusters = {self.node_cluster[node] for node, _ in placement}
            assert len(clusters) == 1, f"a job spans clusters {sorted(clusters)}: {job.job_id}"
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
            self.awaiting_estimate.discard(job.job_id)
            self.first_started.append(job)
        self.running[job.job_id] = job
        # the backend stops a run at its max_runtime, whatever it still needs
        job.run_hits_limit = job.remaining_s > job.max_runtime_s
        run_s = min(job.remaining_s, job.max_runtime_s)
        heapq.heappush(self._events, (self.now + run_s, 1, job.job_id, job.generation))

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
        job.killed = job.run_hits_limit
        self._release(job)
        del self.running[job.job_id]
        self.done.append(job)

    def attained(self, job: Job) -> float:
        if job.started_at is None:
            return job.attained_gpu_s
        return job.attained_gpu_s + (self.now - job.started_at) * job.gpus

    def _arrive(self, job: Job, policy) -> None:
        never_fits = getattr(policy, "never_fits", None)
        if never_fits is not None and never_fits(self, job):
            self.never_fit.append(job)
            return
        self.queue[job.job_id] = job
        self.awaiting_estimate.add(job.job_id)

    def _record_first_estimates(self, given: dict) -> None:
        for job_id, (start, low, high) in given.items():
            if job_id in self.awaiting_estimate:
                self.by_id[job_id].first_estimate = (self.now, start, low, high)
                self.awaiting_estimate.discard(job_id)

    # -- loop ----------------------------------------------------------------------------------
    def run(self, policy) -> None:
        self._events: list = []
        for i, job in enumerate(self.jobs):
            heapq.heappush(self._events, (job.submit_s, 0, job.job_id, i))
        by_id = self.by_id = {job.job_id: job for job in self.jobs}
        policy.setup(self)
        estimates = getattr(policy, "estimates", None)
        wake_at, wakes = getattr(policy, "wake_at", None), set()
        while self._events:
            self.now = self._events[0][0]
            if self.cycle_s > 0:  # decide once per scheduling cycle, at its end, on all its events
                self.now = math.ceil(self.now / self.cycle_s) * self.cycle_s
            # busy GPUs before this moment's events: a completion that nothing replaces is logged too
            before = self.busy_gpus
            while self._events and self._events[0][0] <= self.now:
                t, kind, job_id, gen = heapq.heappop(self._events)
                if kind == DECIDE:
                    wakes.discard(t)
                    continue  # nothing happens but a decision (policy.wake_at)
                job = by_id[job_id]
                if kind == 1 and t < self.now and job.job_id in self.running and job.generation == gen:
                    # a completion inside the cycle: its GPUs were free from then on
                    self.busy_log.append((t, self.busy_gpus - job.gpus))
                    saved, self.now = self.now, t
                    self._finish(job)
                    self.now = saved
                    continue
                if kind == 0:
                    self._arrive(job, policy)
                elif job.job_id in self.running and job.generation == gen:
                    self._finish(job)
            for _ in range(4):  # decide again at once after preemptions free GPUs
                starts, victims = policy.decide(self)
                for victim in victims:
                    self.preempt(victim)
                for job, placement in starts:
                    self.start(job, placement)
                if not victims or not getattr(policy, "replan_after_preemption", True):
                    break
            # A policy that decides on a clock (the product: a cycle every few seconds) may act when
            # time alone has passed, with no arrival or completion: it says when it next would.
            wake = wake_at(self) if wake_at is not None else None
            if wake is not None and wake > self.now and wake not in wakes:
                wakes.add(wake)
                heapq.heappush(self._events, (wake, DECIDE, "", 0))
            if self.busy_gpus != before or not self.busy_log:
                self.busy_log.append((self.now, self.busy_gpus))
            if self.awaiting_estimate and estimates is not None:
                self._record_first_estimates(estimates(self))
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
    """Summary of a finished run. JCT and queueing cover the jobs that ran (killed ones up to the kill);
    jobs the policy set aside as never fitting are only counted."""
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
    # No policy can do more useful work inside the window than every job started at its submission:
    # the most utilisation any policy reaches without counting work lost to preemption, capped at 1.
    possible = sum(min(j.duration_s, max(0.0, window_end - j.submit_s)) * j.gpus for j in sim.jobs)
    utilization_bound = (
        min(1.0, possible / (sim.total_gpus * (window_end - first))) if window_end > first else 0.0
    )
    tenants = tenant_metrics(sim)
    inv = [1.0 / t["avg_slowdown"] for t in tenants.values() if t["jobs"]]
    jain = (sum(inv) ** 2) / (len(inv) * sum(x * x for x in inv)) if inv else 1.0
    killed = sum(1 for j in jobs if j.killed)
    return {
        "jobs_completed": len(jobs) - killed,
        "jobs_killed": killed,
        "jobs_never_fit": len(sim.never_fit),
        "jobs_total": len(sim.jobs),
        "avg_jct_s": round(statistics.fmean(jct), 1) if jct else 0.0,
        "median_jct_s": round(statistics.median(jct), 1) if jct else 0.0,
        "avg_queue_s": round(statistics.fmean(queue), 1) if queue else 0.0,
        "p95_queue_s": round(_pct(queue, 0.95), 1),
        "p99_queue_s": round(_pct(queue, 0.99), 1),
        "max_queue_s": round(max(queue), 1) if queue else 0.0,
        "utilization": round(utilization, 4),
        "utilization_bound": round(utilization_bound, 4),
        "makespan_s": round(end - first, 1),
        "jain_index": round(jain, 4),
        "preemptions": sim.preemptions,
        "gpu_hours_lost": round(sim.gpu_s_lost / HOUR, 2),
        "lower_bound_avg_jct_s": round(statistics.fmean(j.duration_s for j in sim.jobs), 1),
        "max_busy_gpus": sim.max_busy,
        "estimates": estimate_accuracy(sim.done),
        "tenants": tenants,
    }


def tenant_metrics(sim: Sim) -> dict[str, dict]:
    """Per tenant (vc): jobs that ran, avg JCT, mean slowdown, p99 and max queueing, killed, never fit."""
    ran: dict[str, list[Job]] = {}
    for j in sim.done:
        ran.setdefault(j.vc, []).append(j)
    never: dict[str, int] = {}
    for j in sim.never_fit:
        never[j.vc] = never.get(j.vc, 0) + 1
    tenants = {}
    for vc in sorted(ran.keys() | never.keys()):
        js = ran.get(vc, [])
        qd = [j.first_start - j.submit_s for j in js]
        tenants[vc] = {
            "jobs": len(js),
            "avg_slowdown": round(
                statistics.fmean((j.finished_at - j.submit_s) / j.duration_s for j in js), 3
            )
            if js
            else 0.0,
            "avg_jct_s": round(statistics.fmean(j.finished_at - j.submit_s for j in js), 1) if js else 0.0,
            "p99_queue_s": round(_pct(qd, 0.99), 1),
            "max_queue_s": round(max(qd), 1) if qd else 0.0,
            "jobs_killed": sum(1 for j in js if j.killed),
            "jobs_never_fit": never.get(vc, 0),
        }
    return tenants


ESTIMATE_MIN_WAIT_S = 5 * 60


def estimate_accuracy(jobs: list[Job], min_wait_s: float = ESTIMATE_MIN_WAIT_S) -> dict:
    """How good each job's FIRST estimated start was, over jobs that waited at least ``min_wait_s``:
    |estimated − actual first start| ÷ actual wait (median, p90), and the share of jobs whose actual
    start fell inside the estimate's [low, high]. Jobs never given an estimate are counted apart."""
    waited = [j for j in jobs if j.first_start - j.submit_s >= min_wait_s]
    given = [j for j in waited if j.first_estimate is not None]
    errors, inside = [], 0
    for j in given:
        _, start, low, high = j.first_estimate
        errors.append(abs(start - j.first_start) / (j.first_start - j.submit_s))
        inside += low <= j.first_start <= high
    return {
        "min_wait_s": min_wait_s,
        "jobs_waited": len(waited),
        "jobs_estimated": len(given),
        "median_error": round(statistics.median(errors), 4) if errors else None,
        "p90_error": round(_pct(errors, 0.9), 4) if errors else None,
        "inside_range": round(inside / len(given), 4) if given else None,
    }


def job_jcts(sim: Sim) -> dict[str, tuple[str, float]]:
    """Job id → (tenant, JCT) for every job that ran: what the sharing ratios compare."""
    return {j.job_id: (j.vc, j.finished_at - j.submit_s) for j in sim.done}


def sharing_ratios(
    jcts: dict[str, tuple[str, float]], alone: dict[str, tuple[str, float]]
) -> dict[str, float]:
    """Per tenant: avg JCT under a policy ÷ avg JCT with the tenant alone on its static slice, over the
    tenant's jobs that ran under both (a job that never fits its slice has nothing to compare with)."""
    sums: dict[str, list[float]] = {}
    for job_id, (vc, jct) in jcts.items():
        if job_id in alone:
            pair = sums.setdefault(vc, [0.0, 0.0])
            pair[0] += jct
            pair[1] += alone[job_id][1]
    return {vc: round(shared / solo, 4) for vc, (shared, solo) in sorted(sums.items()) if solo > 0}
