"""A mutable working copy of the cluster for one plan: free GPUs per node, and best-fit lookup.

Nodes sit in pools, one per GPU type and cluster (a single cluster is the pool named ""): a gang is
placed inside one pool, never across clusters. In each pool nodes sit in buckets by free-GPU count,
each bucket sorted by name, so the fullest node that fits is found in O(max GPUs per node) — this is
what keeps a 100,000-job plan under a second.
"""

import bisect
from collections import defaultdict
from collections.abc import Callable, Collection

from scheduler.core.model import Node

Pool = tuple[str, str]  # (GPU type, cluster)


class Cluster:
    def __init__(self, nodes: tuple[Node, ...]):
        self.gpu_type: dict[str, str] = {}
        self.pool_of: dict[str, Pool] = {}
        self.size: dict[str, int] = {}
        self.free: dict[str, list[int]] = {}
        self.max_size: dict[str, int] = defaultdict(int)
        self.total_free: dict[str, int] = defaultdict(int)
        self.pool_free: dict[Pool, int] = defaultdict(int)
        self._pools: dict[str, list[str]] = {}  # GPU type → its clusters, cheapest first, then by name
        self._buckets: dict[Pool, list[list[str]]] = {}
        self._capacity: dict[tuple[Pool, int], int] = {}
        self._version: dict[Pool, int] = defaultdict(int)  # bumped whenever a pool's free GPUs change
        self._slots: dict[tuple[Pool, int], tuple[int, int]] = {}
        costs: dict[Pool, float] = {}
        for node in sorted(nodes, key=lambda n: n.name):
            if not node.schedulable:
                continue
            pool = (node.gpu_type, node.cluster)
            self.gpu_type[node.name] = node.gpu_type
            self.pool_of[node.name] = pool
            self.size[node.name] = node.gpus
            self.free[node.name] = sorted(i for i in node.free if 0 <= i < node.gpus)
            self.max_size[node.gpu_type] = max(self.max_size[node.gpu_type], node.gpus)
            costs[pool] = min(costs.get(pool, node.cost), node.cost)
        for name, pool in self.pool_of.items():
            buckets = self._buckets.setdefault(pool, [[] for _ in range(self.max_size[pool[0]] + 1)])
            buckets[len(self.free[name])].append(name)  # names arrive sorted
            self.total_free[pool[0]] += len(self.free[name])
            self.pool_free[pool] += len(self.free[name])
        for gpu_type, cluster in sorted(costs, key=lambda pool: (costs[pool], pool[1])):
            self._pools.setdefault(gpu_type, []).append(cluster)
        self.pool_cost = costs

    def pools(self, gpu_type: str, clusters: Collection[str] | None = None) -> list[str]:
        """The clusters with nodes of ``gpu_type`` (among ``clusters``, if given), preferred first."""
        found = self._pools.get(gpu_type, [])
        return found if clusters is None else [c for c in found if c in clusters]

    def pools_to_fill(self, gpu_type: str, clusters: Collection[str] | None = None) -> list[str]:
        """``pools`` for placing now: the cheapest first and, among equal costs, the one with the fewest
        free GPUs (best fit between clusters, as between nodes: whole nodes stay free elsewhere)."""
        found = self.pools(gpu_type, clusters)
        if len(found) < 2:
            return found
        return sorted(found, key=lambda c: (self.pool_cost[(gpu_type, c)], self.pool_free[(gpu_type, c)], c))

    def nodes_of(self, gpu_type: str, pool: str | None = None) -> list[str]:
        return [
            name for name, (t, c) in self.pool_of.items() if t == gpu_type and (pool is None or c == pool)
        ]

    def slots(self, gpu_type: str, gpus_per_pod: int, pool: str | None = None) -> int:
        """How many pods of ``gpus_per_pod`` GPUs fit right now in ``pool`` (or in all the type's pools
        together, where None), ignoring reservations."""
        if pool is None:
            pools = self._pools.get(gpu_type, ())
            if len(pools) != 1:
                return sum(self.slots(gpu_type, gpus_per_pod, c) for c in pools)
            pool = pools[0]  # one cluster: the common case, asked for every waiting job
        key = (gpu_type, pool)
        buckets = self._buckets.get(key)
        if not buckets or gpus_per_pod <= 0:
            return 0
        version = self._version[key]
        cached = self._slots.get((key, gpus_per_pod))
        if cached is not None and cached[0] == version:
            return cached[1]
        count = sum(len(buckets[c]) * (c // gpus_per_pod) for c in range(gpus_per_pod, len(buckets)))
        self._slots[(key, gpus_per_pod)] = (version, count)
        return count

    def best_fit(
        self, gpu_type: str, gpus: int, allowed: Callable[[str], bool], pool: str = ""
    ) -> str | None:
        """The fullest node of ``pool`` with at least ``gpus`` free for which ``allowed(name)`` holds."""
        buckets = self._buckets.get((gpu_type, pool))
        if not buckets:
            return None
        for count in range(gpus, len(buckets)):
            for name in buckets[count]:
                if allowed(name):
                    return name
        return None

    def _move(self, name: str, before: int, after: int) -> None:
        pool = self.pool_of[name]
        buckets = self._buckets[pool]
        bucket = buckets[before]
        del bucket[bisect.bisect_left(bucket, name)]
        bisect.insort(buckets[after], name)
        self.total_free[pool[0]] += after - before
        self.pool_free[pool] += after - before
        self._version[pool] += 1

    def take(self, name: str, gpus: int) -> tuple[int, ...]:
        free = self.free[name]
        taken, self.free[name] = tuple(free[:gpus]), free[gpus:]
        self._move(name, len(free), len(free) - gpus)
        return taken

    def give_back(self, name: str, indices: tuple[int, ...]) -> None:
        before = len(self.free[name])
        self.free[name] = sorted([*self.free[name], *indices])
        self._move(name, before, len(self.free[name]))

    def could_ever_fit(
        self, gpu_type: str, gpus_per_pod: int, pods: int, clusters: Collection[str] | None = None
    ) -> bool:
        """Whether some one pool (of ``clusters``, if given) could hold all the pods when empty."""
        for pool in self.pools(gpu_type, clusters):
            key = ((gpu_type, pool), gpus_per_pod)
            if key not in self._capacity:
                sizes = [self.size[n] for n in self.nodes_of(gpu_type, pool)]
                self._capacity[key] = sum(size // gpus_per_pod for size in sizes) if gpus_per_pod > 0 else 0
            if self._capacity[key] >= pods:
                return True
        return False
