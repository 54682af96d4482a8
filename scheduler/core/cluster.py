"""A mutable working copy of the cluster for one plan: free GPUs per node, and best-fit lookup.

Nodes of a GPU type sit in buckets by free-GPU count, each bucket sorted by name, so the fullest node
that fits is found in O(max GPUs per node) — this is what keeps a 100,000-job plan under a second.
"""

import bisect
from collections import defaultdict
from collections.abc import Callable

from scheduler.core.model import Node


class Cluster:
    def __init__(self, nodes: tuple[Node, ...]):
        self.gpu_type: dict[str, str] = {}
        self.size: dict[str, int] = {}
        self.free: dict[str, list[int]] = {}
        self.max_size: dict[str, int] = defaultdict(int)
        self.total_free: dict[str, int] = defaultdict(int)
        self._buckets: dict[str, list[list[str]]] = {}
        self._capacity: dict[tuple[str, int], int] = {}
        self._version: dict[str, int] = defaultdict(int)  # bumped whenever a type's free GPUs change
        self._slots: dict[tuple[str, int], tuple[int, int]] = {}
        for node in sorted(nodes, key=lambda n: n.name):
            if not node.schedulable:
                continue
            self.gpu_type[node.name] = node.gpu_type
            self.size[node.name] = node.gpus
            self.free[node.name] = sorted(i for i in node.free if 0 <= i < node.gpus)
            self.max_size[node.gpu_type] = max(self.max_size[node.gpu_type], node.gpus)
        for name, gpu_type in self.gpu_type.items():
            buckets = self._buckets.setdefault(gpu_type, [[] for _ in range(self.max_size[gpu_type] + 1)])
            buckets[len(self.free[name])].append(name)  # names arrive sorted
            self.total_free[gpu_type] += len(self.free[name])

    def nodes_of(self, gpu_type: str) -> list[str]:
        return [name for name, t in self.gpu_type.items() if t == gpu_type]

    def slots(self, gpu_type: str, gpus_per_pod: int) -> int:
        """How many pods of ``gpus_per_pod`` GPUs fit right now, ignoring reservations."""
        buckets = self._buckets.get(gpu_type)
        if not buckets or gpus_per_pod <= 0:
            return 0
        version = self._version[gpu_type]
        cached = self._slots.get((gpu_type, gpus_per_pod))
        if cached is not None and cached[0] == version:
            return cached[1]
        count = sum(len(buckets[c]) * (c // gpus_per_pod) for c in range(gpus_per_pod, len(buckets)))
        self._slots[(gpu_type, gpus_per_pod)] = (version, count)
        return count

    def best_fit(self, gpu_type: str, gpus: int, allowed: Callable[[str], bool]) -> str | None:
        """The fullest node with at least ``gpus`` free for which ``allowed(name)`` holds."""
        buckets = self._buckets.get(gpu_type)
        if not buckets:
            return None
        for count in range(gpus, len(buckets)):
            for name in buckets[count]:
                if allowed(name):
                    return name
        return None

    def _move(self, name: str, before: int, after: int) -> None:
        buckets = self._buckets[self.gpu_type[name]]
        bucket = buckets[before]
        del bucket[bisect.bisect_left(bucket, name)]
        bisect.insort(buckets[after], name)
        self.total_free[self.gpu_type[name]] += after - before
        self._version[self.gpu_type[name]] += 1

    def take(self, name: str, gpus: int) -> tuple[int, ...]:
        free = self.free[name]
        taken, self.free[name] = tuple(free[:gpus]), free[gpus:]
        self._move(name, len(free), len(free) - gpus)
        return taken

    def give_back(self, name: str, indices: tuple[int, ...]) -> None:
        before = len(self.free[name])
        self.free[name] = sorted([*self.free[name], *indices])
        self._move(name, before, len(self.free[name]))

    def could_ever_fit(self, gpu_type: str, gpus_per_pod: int, pods: int) -> bool:
        key = (gpu_type, gpus_per_pod)
        if key not in self._capacity:
            sizes = [self.size[n] for n in self.nodes_of(gpu_type)]
            self._capacity[key] = sum(size // gpus_per_pod for size in sizes) if gpus_per_pod > 0 else 0
        return self._capacity[key] >= pods
