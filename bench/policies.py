"""Policies for trace replay: the product's (``gpugrant``, the real ``scheduler.core.plan``) and the
reference baselines, which live only here in bench/, never in the product.

Each policy has ``setup(sim)`` and ``decide(sim) -> (starts, victims)`` where ``starts`` is a list of
``(job, [(node, gpu indices), ...])`` and ``victims`` a list of running jobs to preempt.

- ``fifo``: strict FIFO by submission; the head blocks everyone behind it.
- ``fifo_backfill``: FIFO with EASY backfill: one reservation for the blocked head job (its earliest start
  from running jobs' ``max_runtime`` estimates); a later job may start now if it ends (by its estimate)
  before that time or leaves the reserved GPUs alone.
- ``sjf_oracle``: shortest (true) job first, non-preemptive, greedy: every job that fits starts, shortest
  first, no reservations.
- ``las``: Tiresias-style least attained service (Gu et al., NSDI 2019): two queues by attained
  GPU-seconds (below / above ``las_threshold_gpu_s``), FIFO within a queue, preemptive: the set of jobs
  that should run is taken greedily in that order over the cluster's GPUs; running jobs outside it are
  preempted (each preemption costs the restart).
- ``static_partition``: no sharing at all: each tenant (vc) alone on its own dedicated slice of whole
  nodes, its share of the cluster (``bench/shares.py``; equal by default) rounded to nodes by largest
  remainder (ties by name) with at least one node per tenant (more tenants than nodes: an error),
  contiguous, in tenant-name order; FIFO + EASY backfill inside each slice only. A gang with more pods than its
  tenant's slice has nodes never runs: it is set aside on arrival and counted in ``jobs_never_fit``
  (it could only run by borrowing another tenant's nodes, which is what this baseline forbids). The
  sharing ratio of a policy (bench/sim.py ``sharing_ratios``) compares each tenant's JCT with this.
"""

import json
from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import replace

from bench.shares import tenant_weights
from bench.sim import DAY, Sim, best_fit, materialise
from scheduler.core import (
    AllocationState,
    Node,
    PodPlacement,
    Policy,
    Priority,
    QueuedJob,
    RunningJob,
    Snapshot,
    plan,
)
from scheduler.core.calibration import WaitCalibration, WaitSample, calibrate
from scheduler.core.estimate import estimate_ranges
from scheduler.core.fairshare import decay
from scheduler.core.predict import FinishedRun, JobTraits, RuntimeHistory

GPU_TYPE = "gpu"
LETTERS = str.maketrans("0123456789", "abcdefghij")


class Fifo:
    name = "fifo"

    def setup(self, sim: Sim) -> None:
        pass

    def _ordered(self, sim: Sim):
        return sorted(sim.queue.values(), key=lambda j: (j.submit_s, j.job_id))

    def decide(self, sim: Sim):
        free = [len(f) for f in sim.free]
        pending: dict[int, list[int]] = {}
        starts = []
        for job in self._ordered(sim):
            counts = best_fit(sim, free, job)
            if counts is None:
                break
            starts.append((job, materialise(sim, counts, pending)))
        return starts, []


def _shadow(sim: Sim, free: list[int], job, running) -> tuple[float, list[int]] | None:
    """EASY: the earliest time ``job`` fits by ``running`` jobs' estimated ends, and the spare GPUs per node then."""
    g, pods = job.gpus_per_pod, job.pods
    future = list(free)
    releases = sorted(
        (max(sim.now, r.started_at + r.max_runtime_s), node, len(idx))
        for r in running
        for node, idx in r.placement
    )

    def slots(f):
        return sum(x // g for x in f)

    at = sim.now
    if slots(future) < pods:
        for time, node, count in releases:
            future[node] += count
            if slots(future) >= pods:
                at = time
                break
        else:
            return None
    # the head takes the fullest nodes that fit at ``at``; the rest is spare
    spare = list(future)
    need = pods
    for node in sorted(range(len(spare)), key=lambda n: (spare[n], n)):
        while need and spare[node] >= g:
            spare[node] -= g
            need -= 1
    return at, spare


def easy_backfill(sim: Sim, ordered, free: list[int], running, pending: dict[int, list[int]]):
    """FIFO + EASY backfill of ``ordered`` jobs on per-node free counts ``free`` (updated in place), with
    one reservation for the first blocked job from ``running`` jobs' max_runtime. Returns the starts."""
    starts = []
    shadow = None
    for job in ordered:
        if shadow is None:
            counts = best_fit(sim, free, job)
            if counts is not None:
                starts.append((job, materialise(sim, counts, pending)))
                continue
            # the head is blocked: reserve for it (GPUs freed by starts above are already counted)
            shadow = _shadow(sim, free, job, running)
            if shadow is None:
                break
            continue
        at, spare = shadow
        ends = sim.now + job.max_runtime_s
        if ends <= at:
            counts = best_fit(sim, free, job)
        else:
            # only where the reservation keeps enough spare GPUs
            masked = [min(f, s) for f, s in zip(free, spare, strict=True)]
            counts = best_fit(sim, masked, job)
            if counts is not None:
                for node, c in counts:
                    free[node] -= c
                    spare[node] -= c
        if counts is not None:
            starts.append((job, materialise(sim, counts, pending)))
    return starts


class FifoBackfill(Fifo):
    name = "fifo_backfill"

    def decide(self, sim: Sim):
        free = [len(f) for f in sim.free]
        return easy_backfill(sim, self._ordered(sim), free, sim.running.values(), {}), []


def largest_remainder_nodes(weights: dict[str, float], n_nodes: int) -> dict[str, int]:
    """Whole nodes per tenant in proportion to ``weights``, at least one each (Hamilton's method)."""
    if len(weights) > n_nodes:
        raise ValueError(
            f"static_partition: {len(weights)} tenants but only {n_nodes} nodes; each tenant needs a "
            "node of its own (use more GPUs)"
        )
    total = sum(weights.values())
    quota = {t: w / total * n_nodes for t, w in weights.items()}
    nodes = {t: max(1, int(q)) for t, q in quota.items()}
    while sum(nodes.values()) > n_nodes:  # the one-node floors overshot: take from the most over quota
        over = max((t for t in nodes if nodes[t] > 1), key=lambda t: (nodes[t] - quota[t], t))
        nodes[over] -= 1
    for t in sorted(quota, key=lambda t: (-(quota[t] - nodes[t]), t))[: n_nodes - sum(nodes.values())]:
        nodes[t] += 1
    return nodes


class Partitioned(Fifo):
    """Jobs in groups, each group on its own set of nodes with FIFO + EASY backfill inside it; a job whose
    gang is larger than its group's nodes never runs. Subclasses set ``nodes`` (group → node indices)
    in ``setup`` and say which group a job belongs to."""

    nodes: dict[str, Collection[int]]

    def group_of(self, job) -> str:
        raise NotImplementedError

    def never_fits(self, sim: Sim, job) -> bool:
        return job.pods > len(self.nodes[self.group_of(job)])

    def decide(self, sim: Sim):
        queued: dict[str, list] = {}
        for job in sim.queue.values():
            queued.setdefault(self.group_of(job), []).append(job)
        running: dict[str, list] = {}
        for job in sim.running.values():
            running.setdefault(self.group_of(job), []).append(job)
        pending: dict[int, list[int]] = {}
        starts = []
        for group, jobs in queued.items():
            nodes = self.nodes[group]
            free = [len(f) if node in nodes else 0 for node, f in enumerate(sim.free)]
            ordered = sorted(jobs, key=lambda j: (j.submit_s, j.job_id))
            starts += easy_backfill(sim, ordered, free, running.get(group, ()), pending)
        return starts, []


class StaticPartition(Partitioned):
    """Each tenant alone on its own slice of whole nodes, FIFO + EASY backfill inside it (module docstring)."""

    name = "static_partition"

    def __init__(self, shares="equal"):
        self.shares = shares

    def setup(self, sim: Sim) -> None:
        weights = tenant_weights({job.vc for job in sim.jobs}, self.shares)
        counts = largest_remainder_nodes(weights, sim.n_nodes)
        self.nodes = {}
        first = 0
        for tenant in sorted(counts):
            self.nodes[tenant] = range(first, first + counts[tenant])
            first += counts[tenant]

    def group_of(self, job) -> str:
        return job.vc


class Pinned(Partitioned):
    """Several clusters, each tenant assigned to one in advance, as programmes do by hand today:
    tenants by expected demand, largest first, each to the cluster where its demand adds least load
    per GPU; FIFO + EASY backfill inside each cluster. ``demand``: "equal" or a weight per tenant
    (GPU-hours before the window, bench/shares.py)."""

    name = "pinned"

    def __init__(self, demand="equal"):
        self.demand = demand

    def setup(self, sim: Sim) -> None:
        demand = tenant_weights({job.vc for job in sim.jobs}, self.demand)
        self.nodes = {}
        for index, cluster in enumerate(sim.node_cluster):
            self.nodes.setdefault(cluster, set()).add(index)
        load = dict.fromkeys(self.nodes, 0.0)
        self.home: dict[str, str] = {}
        for tenant in sorted(demand, key=lambda t: (-demand[t], t)):
            home = min(load, key=lambda c: ((load[c] + demand[tenant]) / len(self.nodes[c]), c))
            self.home[tenant] = home
            load[home] += demand[tenant]

    def group_of(self, job) -> str:
        return self.home[job.vc]


class SjfOracle(Fifo):
    name = "sjf_oracle"

    def decide(self, sim: Sim):
        free = [len(f) for f in sim.free]
        if not any(free):
            return [], []
        pending: dict[int, list[int]] = {}
        starts = []
        for job in sorted(sim.queue.values(), key=lambda j: (j.duration_s, j.submit_s, j.job_id)):
            if job.gpus_per_pod > max(free):
                continue
            counts = best_fit(sim, free, job)
            if counts is not None:
                starts.append((job, materialise(sim, counts, pending)))
                if not any(free):
                    break
        return starts, []


class Las:
    name = "las"

    def __init__(self, threshold_gpu_s: float = 3600.0):
        self.threshold = threshold_gpu_s

    def setup(self, sim: Sim) -> None:
        pass

    def decide(self, sim: Sim):
        active = [*sim.running.values(), *sim.queue.values()]
        if not sim.queue:
            return [], []
        active.sort(key=lambda j: (sim.attained(j) >= self.threshold, j.submit_s, j.job_id))
        budget = sim.total_gpus
        whole_nodes = sim.n_nodes
        keep = set()
        for job in active:
            if job.gpus <= budget and (job.pods == 1 or job.pods <= whole_nodes):
                keep.add(job.job_id)
                budget -= job.gpus
                if job.pods > 1:
                    whole_nodes -= job.pods
            if budget == 0:
                break
        victims = [j for j in sim.running.values() if j.job_id not in keep]
        free = [len(f) for f in sim.free]
        for v in victims:
            for node, idx in v.placement:
                free[node] += len(idx)
        # place the wanted queued jobs on what is free after the preemptions
        starts_counts = []
        for job in active:
            if job.job_id in keep and job.job_id in sim.queue:
                counts = best_fit(sim, free, job)
                if counts is not None:
                    starts_counts.append((job, counts))
        if not starts_counts:
            return [], []  # nothing would start: do not preempt for nothing
        if victims:
            # preempt first; the simulator asks again at once and the starts are placed then
            return [], victims
        pending: dict[int, list[int]] = {}
        return [(job, materialise(sim, counts, pending)) for job, counts in starts_counts], []


class Gpugrant:
    """The product: the real ``scheduler.core.plan`` on a Snapshot built from the simulator state."""

    name = "gpugrant"
    # like the product's cycle: victims are stopped now, and a later plan uses their GPUs: the first
    # cycle (every 3 s) after their pods have stopped (Kubernetes' default termination grace, 30 s)
    replan_after_preemption = False
    # None: wait for the trace's next event instead (as before 2026-12-07)
    replan_after_preemption_s: float | None = 30.0
    # decide also when a grace or a preemption wait runs out (wake_at); False: as before 2026-12-07
    wake_on_time_rules = True
    # how far back the tenants' waits and runs count for Policy.preemption_wait_budget, as in the product
    # (GPUGRANT_PREEMPTION_BUDGET_WINDOW_S)
    budget_window_s = 7 * DAY

    def __init__(
        self,
        shares="equal",
        policy: Policy | None = None,
        half_life_s: float = 7 * DAY,
        predict: bool = True,
        calibrate: bool = True,
        estimate_by_node: bool = True,
        calibration_moves_estimate: bool = False,
    ):
        self.shares = shares
        self.policy = policy or Policy()
        self.half_life_s = half_life_s
        self.predict = predict
        self.calibrate = calibrate
        self.estimate_by_node = estimate_by_node  # False: estimates count free GPUs (bench.estimate_sweep)
        # True: calibration moves the estimate too, as before 2026-12-07 (bench.estimate_sweep)
        self.calibration_moves_estimate = calibration_moves_estimate

    def setup(self, sim: Sim) -> None:
        self.names = [f"node-{i:04d}" for i in range(sim.n_nodes)]
        self.index = {name: i for i, name in enumerate(self.names)}
        # "equal", or weights known before the window (bench/shares.py), never the trace's own future
        self.weights = tenant_weights({job.vc for job in sim.jobs}, self.shares)
        self.usage = dict.fromkeys(self.weights, 0.0)
        self.last_plan = None
        self.last = None
        self.queued: dict[str, QueuedJob] = {}
        self.running: dict[tuple[str, int], RunningJob] = {}
        self.holds: dict[str, tuple[tuple[str, ...], float]] = {}  # what the product stores on the job
        # Runtime history as the product keeps it (scheduler/history.py): runs that finished by themselves
        # in one go, learnt only once they end. The trace names no user, job or command, so a job's kind
        # is its tenant and size: predictions come from the tenant's jobs of its size, else its jobs.
        self.history = RuntimeHistory()
        self.learnt = 0  # how many of sim.done the history has seen
        # the tenants' recent waits and runs (_recent_waits): finished jobs in the window, oldest first
        self.recent: deque[tuple[float, str, float, float]] = deque()
        self.recent_seen = 0
        self.recent_waited: dict[str, float] = defaultdict(float)
        self.recent_ran: dict[str, float] = defaultdict(float)
        # Ranges widened as the product widens them (core/calibration.py), from the plan's own first
        # estimate of each job that has started since: nothing a real cycle would not know.
        self.calibration = (
            WaitCalibration(move_estimate=self.calibration_moves_estimate) if self.calibrate else None
        )
        self.planned_first: dict[str, tuple[float, float]] = {}  # job id → (given at, the plan's start)
        self.announced: set[str] = set()
        self.calibrated_starts = 0  # how many of sim.first_started the calibration has seen
        self.group_predictions: dict[tuple[str, int], object] = {}
        self.group_version = -1

    def _charge(self, sim: Sim) -> None:
        if self.last is not None and sim.now > self.last:
            dt = sim.now - self.last
            for vc in self.usage:
                self.usage[vc] = decay(self.usage[vc], dt, self.half_life_s)
            for job in sim.running.values():
                # GPU-seconds of the interval, decayed to now (to first order: half the interval's decay)
                self.usage[job.vc] += job.gpus * dt * 0.5 ** (dt / 2 / self.half_life_s)
        self.last = sim.now

    def _queued(self, job, priority) -> QueuedJob:
        held = self.holds.get(job.job_id)
        if held is not None:
            return replace(self._queued_plain(job, priority), held_nodes=held[0], held_since=held[1])
        return self._queued_plain(job, priority)

    @staticmethod
    def _traits(job) -> JobTraits:
        # No names or commands in the trace: each job gets its own (letters for the id's digits, since name
        # stems drop numbers), so only the tenant-and-size and tenant levels of the history can match.
        unique = job.job_id.translate(LETTERS)
        return JobTraits(job.vc, job.vc, unique, unique, "", job.gpus)

    def _learn(self, sim: Sim) -> None:
        for job in sim.done[self.learnt :]:
            if not job.killed and job.preemptions == 0:
                self.history.add(
                    FinishedRun(
                        self._traits(job),
                        job.finished_at - job.first_start,
                        job.max_runtime_s,
                        job.finished_at,
                    )
                )
        self.learnt = len(sim.done)

    def _recent_waits(self, sim: Sim) -> tuple[dict[str, float], dict[str, float]]:
        """Per tenant, over its jobs running now or finished within ``budget_window_s``: seconds queued
        before their first start, and seconds from then to their end (or now), as scheduler/history.py
        recent_waits reads them from the jobs table. Only where the policy has a wait budget; finished
        jobs are summed as they finish and dropped as they leave the window, so a plan costs O(running)."""
        if self.policy.preemption_wait_budget <= 0:
            return {}, {}
        for job in sim.done[self.recent_seen :]:
            entry = (
                job.finished_at,
                job.vc,
                job.first_start - job.submit_s,
                job.finished_at - job.first_start,
            )
            self.recent.append(entry)
            self.recent_waited[job.vc] += entry[2]
            self.recent_ran[job.vc] += entry[3]
        self.recent_seen = len(sim.done)
        # jobs finish in time order, so the oldest are at the left
        while self.recent and self.recent[0][0] < sim.now - self.budget_window_s:
            _, vc, wait, run = self.recent.popleft()
            self.recent_waited[vc] -= wait
            self.recent_ran[vc] -= run
        waited, ran = dict(self.recent_waited), dict(self.recent_ran)
        for job in sim.running.values():
            waited[job.vc] = waited.get(job.vc, 0.0) + (job.first_start - job.submit_s)
            ran[job.vc] = ran.get(job.vc, 0.0) + (sim.now - job.first_start)
        return waited, ran

    def _prediction(self, job):
        if not self.predict:
            return None
        if self.group_version != self.history.version:
            self.group_predictions.clear()
            self.group_version = self.history.version
        key = (job.vc, job.gpus, job.max_runtime_s)
        if key not in self.group_predictions:
            self.group_predictions[key] = self.history.predict(self._traits(job), job.max_runtime_s)
        return self.group_predictions[key]

    def _queued_plain(self, job, priority) -> QueuedJob:
        q = self.queued.get(job.job_id)
        prediction = self._prediction(job)
        attained = job.attained_gpu_s
        if q is None or q.prediction != prediction or q.attained_gpu_s != attained:
            q = QueuedJob(
                job.job_id,
                job.vc,
                GPU_TYPE,
                job.gpus_per_pod,
                job.pods,
                job.max_runtime_s,
                job.submit_s,
                priority,
                prediction=prediction,
                attained_gpu_s=attained,
            )
            self.queued[job.job_id] = q
        return q

    def _running(self, job, priority) -> RunningJob:
        key = (job.job_id, job.generation)
        r = self.running.get(key)
        if r is None:
            pods = tuple(PodPlacement(self.names[node], tuple(idx)) for node, idx in job.placement)
            r = RunningJob(
                job.job_id,
                job.vc,
                GPU_TYPE,
                pods,
                job.started_at,
                job.max_runtime_s,
                priority,
                prediction=self._prediction(job),
                preemptions=job.preemptions,
            )
            self.running[key] = r
        return r

    def decide(self, sim: Sim):
        self._charge(sim)
        self._learn(sim)
        self.last_plan = None
        if not sim.queue:
            return [], []
        gpn = sim.gpn
        nodes = tuple(
            Node(self.names[i], GPU_TYPE, gpn, frozenset(free), cluster=sim.node_cluster[i])
            for i, free in enumerate(sim.free)
        )
        running = tuple(
            self._running(j, Priority.LOW if j.checkpointable else Priority.NORMAL)
            for j in sim.running.values()
        )
        queue = tuple(
            self._queued(j, Priority.LOW if j.checkpointable else Priority.NORMAL) for j in sim.queue.values()
        )
        waited, ran = self._recent_waits(sim)
        allocations = tuple(
            AllocationState(
                vc, self.weights[vc], self.usage[vc], sim.total_gpus, waited.get(vc, 0.0), ran.get(vc, 0.0)
            )
            for vc in self.weights
        )
        snapshot = Snapshot(sim.now, nodes, running, queue, allocations, self.policy)
        result = plan(snapshot)
        self.last_plan = (snapshot, result)
        self.holds = {h.job_id: (h.nodes, h.since) for h in result.preemption_holds}
        starts = [
            (sim.queue[s.job_id], [(self.index[p.node], p.gpu_indices) for p in s.pods])
            for s in result.starts
        ]
        victims = [sim.running[p.job_id] for p in result.preemptions]
        return starts, victims

    def wake_at(self, sim: Sim) -> float | None:
        """When the product's cycle, running every few seconds, would next act though nothing arrives or
        ends: once a preemptor's victims have stopped, once running jobs leave the grace that keeps a
        waiting job from preempting them (Plan.preemption_due), and once a waiting job has waited the
        ``preemption_wait_s`` it must before it may preempt, or its tenant has spent its wait budget
        (Plan.budget_due)."""
        if self.last_plan is None:
            return None
        snapshot, result = self.last_plan
        times = []
        if self.wake_on_time_rules:
            times.extend(at for at in result.preemption_due.values() if at > sim.now)
            times.extend(at for at in result.budget_due.values() if at > sim.now)
            wait = self.policy.preemption_wait_s
            if wait > 0:
                times.extend(at for job in snapshot.queue if (at := job.submitted_at + wait) > sim.now)
        if result.preemptions and self.replan_after_preemption_s is not None:
            times.append(sim.now + self.replan_after_preemption_s)
        return min(times, default=None)

    def estimates(self, sim: Sim) -> dict[str, tuple[float, float, float]]:
        """The product's estimated starts and ranges for the last plan's waiting jobs, as the cycle
        computes them (predicted runtimes, the programme-wide fallback for jobs without history)."""
        if self.last_plan is None:
            return {}
        ranges = estimate_ranges(
            *self.last_plan,
            fallback=self.history.fallback if self.predict else None,
            by_node=self.estimate_by_node,
        )
        for job_id, estimate in ranges.items():
            if job_id not in self.announced:
                self.announced.add(job_id)
                self.planned_first[job_id] = (sim.now, estimate.at)
        if self.calibration is not None:
            for job in sim.first_started[self.calibrated_starts :]:
                planned = self.planned_first.pop(job.job_id, None)
                if planned is not None:
                    given, start = planned
                    self.calibration.add(WaitSample(GPU_TYPE, start - given, job.first_start - given))
            self.calibrated_starts = len(sim.first_started)
            ranges = calibrate(ranges, *self.last_plan, self.calibration)
        return {job_id: (e.at, e.low, e.high) for job_id, e in ranges.items()}


def make(name: str, shares="equal", las_threshold_gpu_s: float = 3600.0, demand=None):
    """A policy by name; ``shares`` is "equal" or a weight per tenant (bench/shares.py resolve_shares);
    ``demand`` what ``pinned`` balances clusters by (default: the shares)."""
    if name in GPUGRANT_VARIANTS:
        predict, unknown, calibrated = GPUGRANT_VARIANTS[name]
        return Gpugrant(
            shares=shares, policy=Policy(unknown_runtime=unknown), predict=predict, calibrate=calibrated
        )
    if name.startswith("gpugrant{"):  # gpugrant{"short_job_weight": 4000}: Policy fields, for tuning
        return Gpugrant(shares=shares, policy=Policy(**json.loads(name[len("gpugrant") :])))
    if name == "static_partition":
        return StaticPartition(shares=shares)
    if name == "fifo":
        return Fifo()
    if name == "fifo_backfill":
        return FifoBackfill()
    if name == "sjf_oracle":
        return SjfOracle()
    if name == "las":
        return Las(las_threshold_gpu_s)
    if name == "pinned":
        return Pinned(demand if demand is not None else shares)
    raise ValueError(f"unknown policy {name!r}")


POLICIES = ("gpugrant", "fifo", "fifo_backfill", "static_partition", "sjf_oracle", "las")
# The product's planner with parts of it turned off, to measure what each part gives: (predict from
# history, what ordering takes for a job without a prediction).
GPUGRANT_VARIANTS = {
    "gpugrant": (True, "attained", True),
    "gpugrant_by_max_runtime": (True, "max_runtime", True),  # no history: the user's max_runtime ranks it
    "gpugrant_no_history": (False, "max_runtime", True),  # the planner before runtime prediction
    "gpugrant_no_history_attained": (False, "attained", True),
    # the same decisions as gpugrant; estimated starts as the plan gives them, without calibration
    "gpugrant_uncalibrated": (True, "attained", False),
}
