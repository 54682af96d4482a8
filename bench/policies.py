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
"""

from dataclasses import replace

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
from scheduler.core.fairshare import decay

GPU_TYPE = "gpu"


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


def _shadow(sim: Sim, free: list[int], job) -> tuple[float, list[int]] | None:
    """EASY: the earliest time ``job`` fits by running jobs' estimated ends, and the spare GPUs per node then."""
    g, pods = job.gpus_per_pod, job.pods
    future = list(free)
    releases = sorted(
        (max(sim.now, r.started_at + r.max_runtime_s), node, len(idx))
        for r in sim.running.values()
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


class FifoBackfill(Fifo):
    name = "fifo_backfill"

    def decide(self, sim: Sim):
        free = [len(f) for f in sim.free]
        pending: dict[int, list[int]] = {}
        starts = []
        shadow = None
        for job in self._ordered(sim):
            if shadow is None:
                counts = best_fit(sim, free, job)
                if counts is not None:
                    starts.append((job, materialise(sim, counts, pending)))
                    continue
                # the head is blocked: reserve for it (GPUs freed by starts above are already counted)
                shadow = _shadow(sim, free, job)
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
        return starts, []


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
    # like the product's cycle: victims are stopped now, and the next plan (next event) uses their GPUs
    replan_after_preemption = False

    def __init__(self, shares: str = "equal", policy: Policy | None = None, half_life_s: float = 7 * DAY):
        self.shares = shares
        self.policy = policy or Policy()
        self.half_life_s = half_life_s

    def setup(self, sim: Sim) -> None:
        self.names = [f"node-{i:04d}" for i in range(sim.n_nodes)]
        self.index = {name: i for i, name in enumerate(self.names)}
        weights: dict[str, float] = {}
        for job in sim.jobs:
            gpu_h = job.num_gpus * job.duration_s / 3600.0
            weights[job.vc] = weights.get(job.vc, 0.0) + (gpu_h if self.shares == "proportional" else 0.0)
        if self.shares == "equal":
            weights = dict.fromkeys(weights, 1.0)
        self.weights = weights
        self.usage = dict.fromkeys(weights, 0.0)
        self.last = None
        self.queued: dict[str, QueuedJob] = {}
        self.running: dict[tuple[str, int], RunningJob] = {}
        self.holds: dict[str, tuple[tuple[str, ...], float]] = {}  # what the product stores on the job

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

    def _queued_plain(self, job, priority) -> QueuedJob:
        q = self.queued.get(job.job_id)
        if q is None:
            q = QueuedJob(
                job.job_id,
                job.vc,
                GPU_TYPE,
                job.gpus_per_pod,
                job.pods,
                job.max_runtime_s,
                job.submit_s,
                priority,
            )
            self.queued[job.job_id] = q
        return q

    def _running(self, job, priority) -> RunningJob:
        key = (job.job_id, job.generation)
        r = self.running.get(key)
        if r is None:
            pods = tuple(PodPlacement(self.names[node], tuple(idx)) for node, idx in job.placement)
            r = RunningJob(job.job_id, job.vc, GPU_TYPE, pods, job.started_at, job.max_runtime_s, priority)
            self.running[key] = r
        return r

    def decide(self, sim: Sim):
        self._charge(sim)
        if not sim.queue:
            return [], []
        gpn = sim.gpn
        nodes = tuple(Node(self.names[i], GPU_TYPE, gpn, frozenset(free)) for i, free in enumerate(sim.free))
        running = tuple(
            self._running(j, Priority.LOW if j.checkpointable else Priority.NORMAL)
            for j in sim.running.values()
        )
        queue = tuple(
            self._queued(j, Priority.LOW if j.checkpointable else Priority.NORMAL) for j in sim.queue.values()
        )
        allocations = tuple(
            AllocationState(vc, self.weights[vc], self.usage[vc], sim.total_gpus) for vc in self.weights
        )
        result = plan(Snapshot(sim.now, nodes, running, queue, allocations, self.policy))
        self.holds = {h.job_id: (h.nodes, h.since) for h in result.preemption_holds}
        starts = [
            (sim.queue[s.job_id], [(self.index[p.node], p.gpu_indices) for p in s.pods])
            for s in result.starts
        ]
        victims = [sim.running[p.job_id] for p in result.preemptions]
        return starts, victims


def make(name: str, shares: str = "equal", las_threshold_gpu_s: float = 3600.0):
    if name == "gpugrant":
        return Gpugrant(shares=shares)
    if name == "fifo":
        return Fifo()
    if name == "fifo_backfill":
        return FifoBackfill()
    if name == "sjf_oracle":
        return SjfOracle()
    if name == "las":
        return Las(las_threshold_gpu_s)
    raise ValueError(f"unknown policy {name!r}")


POLICIES = ("gpugrant", "fifo", "fifo_backfill", "sjf_oracle", "las")
