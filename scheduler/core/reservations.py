"""Reservations for blocked jobs, and the backfill rule that protects them.

A reservation is the earliest time T at which a blocked job fits, found by sweeping the expected
releases (start + max_runtime) of running jobs of its GPU type, and the nodes it will use at T. A job
may then start now on a reserved node only if it ends by T or leaves the reservation enough GPUs
(the node's spare GPUs at T). Nodes outside every reservation are free for anyone. So no backfilled
job can delay a reserved start, as long as running jobs end by their max_runtime.
"""

from collections import defaultdict
from dataclasses import dataclass, field

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


def earliest_fit(
    job: QueuedJob,
    cluster: Cluster,
    running: list[RunningJob],
    reservations: Reservations,
    now: float,
) -> Hold | None:
    """When and where ``job`` fits at the earliest, given expected releases; None if it never does."""
    g, pods = job.gpus_per_pod, job.pods
    nodes = cluster.nodes_of(job.gpu_type)
    # An earlier reservation's GPUs count as taken from now until it is expected to end: never too optimistic.
    free = {n: len(cluster.free[n]) - reservations.held_on(n) for n in nodes}
    slots = sum(max(0, f) // g for f in free.values())
    at = now
    if slots < pods:
        releases: dict[tuple[float, str], int] = defaultdict(int)
        for other in running:
            if other.gpu_type != job.gpu_type:
                continue
            for pod in other.pods:
                if pod.node in free:
                    releases[(max(now, other.expected_end), pod.node)] += len(pod.gpu_indices)
        for hold in reservations.holds:
            for node, gpus in hold.need.items():
                if node in free:
                    releases[(hold.ends_at, node)] += gpus
        found = False
        for (time, node), gpus in sorted(releases.items()):
            before = free[node]
            free[node] = before + gpus
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
