"""Reservations for blocked jobs, and the backfill rule that protects them.

A reservation is the earliest time T at which a blocked job fits, found by sweeping the expected
releases (start + max_runtime) of running jobs of its GPU type, and the nodes it will use at T. A job
may then start now on a reserved node only if it ends by T or leaves the reservation enough GPUs
(the node's spare GPUs at T). Nodes outside every reservation are free for anyone. So no backfilled
job can delay a reserved start, as long as running jobs end by their max_runtime.
"""

from bisect import insort
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from heapq import merge
from itertools import groupby

from scheduler.core.cluster import Cluster
from scheduler.core.model import QueuedJob, RunningJob


@dataclass
class Hold:
    job_id: str
    start_at: float
    ends_at: float  # start_at + the reserved job's max_runtime
    need: dict[str, int]  # node → GPUs the reserved job takes there
    spare: dict[str, int] = field(default_factory=dict)  # node → GPUs at start_at nobody has claimed


class Reservations:
    def __init__(self):
        self.holds: list[Hold] = []
        self._by_node: dict[str, list[Hold]] = defaultdict(list)

    def count_for(self, job_ids_of_type: set[str]) -> int:
        return sum(1 for hold in self.holds if hold.job_id in job_ids_of_type)

    def allows(self, node: str, gpus: int, ends_at: float) -> bool:
        return all(
            ends_at <= hold.start_at or hold.spare.get(node, 0) >= gpus
            for hold in self._by_node.get(node, ())
        )

    def consume(self, node: str, gpus: int, ends_at: float) -> None:
        for hold in self._by_node.get(node, ()):
            if ends_at > hold.start_at:
                hold.spare[node] -= gpus

    def unconsume(self, node: str, gpus: int, ends_at: float) -> None:
        self.consume(node, -gpus, ends_at)

    def add(self, hold: Hold) -> None:
        for node, gpus in hold.need.items():
            # A later reservation running past an earlier one's start eats into its spare GPUs.
            for earlier in self._by_node.get(node, ()):
                earlier.spare[node] = earlier.spare.get(node, 0) - gpus
            self._by_node[node].append(hold)
        self.holds.append(hold)

    def held_on(self, node: str) -> int:
        return sum(hold.need.get(node, 0) for hold in self._by_node.get(node, ()))


class Releases:
    """Running jobs' expected releases per GPU type, sorted once per plan.

    ``earliest_fit`` walks them in time order and usually stops after a few, so sorting every running
    job at every call (several calls per plan) was most of a plan's cost on busy clusters.
    """

    def __init__(self, running: Iterable[RunningJob], now: float):
        self.now = now
        self._running = running
        self._base: dict[str, list[tuple[float, str, int, str]]] | None = None  # built when first asked
        self._added: dict[str, list[tuple[float, str, int, str]]] = defaultdict(list)

    def _sorted_base(self) -> dict[str, list[tuple[float, str, int, str]]]:
        if self._base is None:
            self._base = defaultdict(list)
            for job in self._running:
                self._base[job.gpu_type].extend(self._entries(job))
            for entries in self._base.values():
                entries.sort()
        return self._base

    def _entries(self, job: RunningJob):
        end = max(self.now, job.expected_end)  # overdue jobs count as ending now
        return [(end, pod.node, len(pod.gpu_indices), job.job_id) for pod in job.pods]

    def add(self, job: RunningJob) -> None:
        """A job started in this plan."""
        for entry in self._entries(job):
            insort(self._added[job.gpu_type], entry)

    def in_order(self, gpu_type: str, excluded: Collection[str]) -> Iterator[tuple[float, str, int]]:
        base = self._sorted_base().get(gpu_type, ())
        for end, node, gpus, job_id in merge(base, self._added.get(gpu_type, ())):
            if job_id not in excluded:
                yield end, node, gpus


def earliest_fit(
    job: QueuedJob,
    cluster: Cluster,
    releases: Releases,
    reservations: Reservations,
    now: float,
    excluded: Collection[str] = (),
) -> Hold | None:
    """When and where ``job`` fits at the earliest, given expected releases; None if it never does.
    Each of its pools (clusters) is tried apart, a gang never spanning two; the earliest wins, the
    preferred pool on a tie.

    ``excluded``: running jobs that will not release as expected (victims being preempted).
    """
    best = None
    for pool in cluster.pools(job.gpu_type, job.clusters):
        hold = _earliest_fit_in(
            job, cluster.nodes_of(job.gpu_type, pool), cluster, releases, reservations, now, excluded
        )
        if hold is not None and (best is None or hold.start_at < best.start_at):
            best = hold
    return best


def _earliest_fit_in(
    job: QueuedJob,
    nodes: list[str],
    cluster: Cluster,
    releases: Releases,
    reservations: Reservations,
    now: float,
    excluded: Collection[str],
) -> Hold | None:
    g, pods = job.gpus_per_pod, job.pods
    # An earlier reservation's GPUs count as taken from now until it is expected to end: never too optimistic.
    free = {n: len(cluster.free[n]) - reservations.held_on(n) for n in nodes}
    slots = sum(max(0, f) // g for f in free.values())
    at = now
    if slots < pods:
        held = sorted(
            (hold.ends_at, node, gpus)
            for hold in reservations.holds
            for node, gpus in hold.need.items()
            if node in free
        )
        running = (
            (end, node, gpus) for end, node, gpus in releases.in_order(job.gpu_type, excluded) if node in free
        )
        found = False
        # Releases at the same (time, node) apply together before the fit is checked.
        for (time, node), group in groupby(merge(running, held), key=lambda r: (r[0], r[1])):
            before = free[node]
            free[node] = before + sum(gpus for _, _, gpus in group)
            slots += max(0, free[node]) // g - max(0, before) // g
            if slots >= pods:
                at, found = time, True
                break
        if not found:
            return None
    need: dict[str, int] = {}
    remaining = pods
    for node in sorted((n for n in nodes if free[n] >= g), key=lambda n: (free[n], n)):
        fit = min(remaining, free[node] // g)
        need[node] = fit * g
        remaining -= fit
        if remaining == 0:
            break
    spare = {node: free[node] - gpus for node, gpus in need.items()}
    return Hold(job_id=job.job_id, start_at=at, ends_at=at + job.max_runtime_s, need=need, spare=spare)
