"""Several clusters behind one Backend: one plan over all of them (docs/providers.md, "Federation").

Each member is an ordinary backend for one registered cluster (Kubernetes with that cluster's API
server and token, or simulated). Node names are qualified by the cluster (``seoul-a/gpu-01``: two
providers may name nodes alike) and each NodeInfo says its cluster, so the inventory ties nodes to it;
a bind goes to the cluster of its nodes, with the names as that cluster knows them. A gang never spans
clusters: a bind naming nodes of two is refused.

Failover. A member that does not answer keeps its last inventory, its nodes marked unschedulable (no new
placements, but what runs there is not given up), and its jobs are reported UNKNOWN (left as they
are), until it has not answered for ``offline_after_s``; then the cluster is down: its nodes are no longer
reported (the inventory marks them gone) and its jobs are not either (reconciliation marks them lost
and requeues them elsewhere). When a down cluster answers again, everything gpugrant left there is
stopped first; until that is done its nodes are reported unschedulable, so nothing is placed on it.
``health()`` tells the layer above which clusters are down, so that it can record it (the backend
touches no database); what to do about it is decided there (scheduler/federation.py).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from scheduler.backends.base import Backend, BindError, JobSpec, JobStatus, NodeInfo, Phase

logger = logging.getLogger(__name__)
SEPARATOR = "/"
CLEANING = "being cleaned after an outage: what gpugrant left there is stopped first"


class ClusterUnreachable(BindError):
    """The cluster's API server did not answer the bind: not the job's fault, so no requeue is used up."""

    counts_as_requeue = False


def qualified(cluster: str, node: str) -> str:
    return f"{cluster}{SEPARATOR}{node}"


def split_node(name: str) -> tuple[str, str]:
    """``seoul-a/gpu-01`` → (``seoul-a``, ``gpu-01``); a name without a cluster is an error."""
    cluster, sep, node = name.partition(SEPARATOR)
    if not sep or not cluster or not node:
        raise BindError(f"node {name!r} names no cluster")
    return cluster, node


@dataclass
class MemberHealth:
    """What the federation knows of one member's API server."""

    last_answer: float | None = None  # when it last answered (None: never, since this process started)
    silent_since: float | None = None  # when it stopped answering (None: it answers)
    error: str = ""
    down: bool = False  # silent for offline_after_s: its nodes and jobs are no longer reported
    cleaning: bool = False  # back after being down, leftovers not yet all stopped


class FederatedBackend(Backend):
    name = "federated"

    def __init__(
        self,
        members: dict[str, Backend] | None = None,
        *,
        offline_after_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._members: dict[str, Backend] = {}
        self._health: dict[str, MemberHealth] = {}
        self._nodes: dict[str, list[NodeInfo]] = {}  # the last inventory each member gave
        self._sources: dict[str, object] = {}  # what each member was built from (opaque here)
        self.offline_after_s = offline_after_s
        self._clock = clock
        self.bind_concurrency = 1
        self.set_members(members or {})

    # --- members -----------------------------------------------------------------------------------

    def set_members(self, members: dict[str, Backend], sources: dict[str, object] | None = None) -> None:
        """The clusters to drive now (by name), and what each was built from (``source(name)`` gives it back,
        so the caller can tell a changed connection). A member kept keeps its health; a new one starts afresh."""
        for name in list(self._members):
            if name not in members:
                self._members.pop(name)
                self._health.pop(name, None)
                self._nodes.pop(name, None)
        self._sources = dict(sources or {})
        for name, backend in members.items():
            if SEPARATOR in name:
                raise ValueError(f"a cluster's name cannot hold {SEPARATOR!r}: {name!r}")
            if self._members.get(name) is not backend:
                self._members[name] = backend
                self._health[name] = MemberHealth()
                self._nodes.pop(name, None)
        # Binds to different clusters are independent (each member has its own client and rate limit):
        # as many at once as the members allow together.
        self.bind_concurrency = max(1, sum(getattr(b, "bind_concurrency", 1) for b in self._members.values()))

    def member(self, cluster: str) -> Backend:
        return self._members[cluster]

    def source(self, cluster: str) -> object | None:
        return self._sources.get(cluster)

    def health(self) -> dict[str, MemberHealth]:
        return {name: replace(health) for name, health in self._health.items()}

    def silent_without_inventory(self) -> set[str]:
        """Clusters that do not answer, are not down yet, and never answered this process: their nodes
        are not in the inventory (none are known here), but must not count as gone (a scheduler restarted
        during an outage would otherwise give up their jobs at once)."""
        return {
            name
            for name, health in self._health.items()
            if health.silent_since is not None and not health.down and not self._nodes.get(name)
        }

    # --- the Backend interface ----------------------------------------------------------------------

    def inventory(self) -> list[NodeInfo]:
        nodes: list[NodeInfo] = []
        for cluster, backend in self._members.items():
            health = self._health[cluster]
            try:
                infos = backend.inventory()
            except Exception as error:  # noqa: BLE001 - any failure to answer counts as silence
                self._silent(cluster, error)
                if not health.down:  # as last seen, taking nothing new, until it is down
                    silent = f"cluster {cluster} does not answer: {health.error}"[:200]
                    nodes.extend(
                        replace(info, schedulable=False, unschedulable_reason=silent)
                        for info in self._nodes.get(cluster, [])
                    )
                continue
            self._answered(cluster)
            if health.cleaning:
                self._clean(cluster, backend)
            mine = [
                replace(
                    info,
                    name=qualified(cluster, info.name),
                    cluster=cluster,
                    schedulable=info.schedulable and not health.cleaning,
                    unschedulable_reason=CLEANING if health.cleaning else info.unschedulable_reason,
                )
                for info in infos
            ]
            self._nodes[cluster] = mine
            nodes.extend(mine)
        return nodes

    def bind(self, spec: JobSpec) -> None:
        clusters = {split_node(pod.node)[0] for pod in spec.pods}
        if len(clusters) != 1:
            raise BindError(f"a gang never spans clusters: {', '.join(sorted(clusters))}")
        (cluster,) = clusters
        backend = self._members.get(cluster)
        if backend is None:
            raise BindError(f"no cluster {cluster!r} is connected")
        health = self._health[cluster]
        if health.down or health.cleaning:
            raise BindError(f"cluster {cluster} is {'down' if health.down else 'being cleaned'}")
        pods = tuple(replace(pod, node=split_node(pod.node)[1]) for pod in spec.pods)
        try:
            backend.bind(replace(spec, pods=pods))
        except BindError:
            raise
        except Exception as error:  # noqa: BLE001 - no answer: say so, and the job waits for another place
            self._silent(cluster, error)
            raise ClusterUnreachable(f"cluster {cluster} did not answer: {error}") from error
        self._answered(cluster)

    def stop(self, job_id: str, reason: str) -> None:
        """Stop it wherever it is (a job runs in one cluster; the others know nothing of it). A cluster that
        does not answer is skipped, and the stop fails if none could be asked: the sweep retries it."""
        errors = []
        for cluster, backend in self._members.items():
            if self._health[cluster].down:
                continue
            try:
                backend.stop(job_id, reason)
            except Exception as error:  # noqa: BLE001
                errors.append((cluster, error))
        if errors:
            cluster, error = errors[0]
            raise RuntimeError(f"stopping job {job_id} in cluster {cluster} failed: {error}") from error

    def statuses(self, job_ids: list[str]) -> list[JobStatus]:
        found: dict[str, JobStatus] = {}
        silent = False
        for cluster, backend in self._members.items():
            if self._health[cluster].down:
                continue
            try:
                answered = backend.statuses(job_ids)
            except Exception as error:  # noqa: BLE001
                self._silent(cluster, error)
                silent = silent or not self._health[cluster].down
                continue
            self._answered(cluster)
            for status in answered:
                # The same job in two clusters can only be the remains of a run that failed over: the
                # live one wins (the other is stopped when its cluster is cleaned).
                if status.job_id not in found or found[status.job_id].phase in (Phase.LOST, Phase.STOPPED):
                    found[status.job_id] = status
        if silent:  # a cluster that may still hold them cannot say: leave the rest as they are
            for job_id in job_ids:
                found.setdefault(job_id, JobStatus(job_id, Phase.UNKNOWN, "its cluster does not answer"))
        return [found[job_id] for job_id in job_ids if job_id in found]

    def logs(self, job_id: str, limit_bytes: int) -> str:
        for cluster, backend in self._members.items():
            if self._health[cluster].down:
                continue
            try:
                text = backend.logs(job_id, limit_bytes)
            except Exception:  # noqa: BLE001 - another cluster may hold it
                continue
            if text:
                return text
        return ""

    def session_endpoint(self, job_id: str) -> str | None:
        """Where the cluster running the session has it answer (the others know nothing of it)."""
        for cluster, backend in self._members.items():
            if self._health[cluster].down:
                continue
            try:
                endpoint = backend.session_endpoint(job_id)
            except Exception:  # noqa: BLE001 - another cluster may hold it
                continue
            if endpoint:
                return endpoint
        return None

    def owned_job_ids(self) -> set[str]:
        return {job_id for b in self._members.values() for job_id in b.owned_job_ids()}

    # --- failover -----------------------------------------------------------------------------------

    def _silent(self, cluster: str, error: Exception) -> None:
        health, now = self._health[cluster], self._clock()
        if health.silent_since is None:
            health.silent_since = now
            logger.warning("cluster %s does not answer: %s", cluster, error)
        health.error = str(error)[:300] or type(error).__name__
        since = health.last_answer if health.last_answer is not None else health.silent_since
        if not health.down and now - since >= self.offline_after_s:
            health.down = True
            logger.error("cluster %s is down: no answer for %.0f s", cluster, now - since)

    def _answered(self, cluster: str) -> None:
        health = self._health[cluster]
        if health.down:
            health.cleaning = True  # back: stop what was left there before anything is placed on it
            logger.warning("cluster %s answers again; cleaning it before use", cluster)
        health.down, health.silent_since, health.error = False, None, ""
        health.last_answer = self._clock()

    def _clean(self, cluster: str, backend: Backend) -> None:
        try:
            left = backend.owned_job_ids()
            for job_id in sorted(left):
                backend.stop(job_id, "lost")
            remaining = [
                s for s in backend.statuses(sorted(left)) if s.phase in (Phase.PENDING, Phase.RUNNING)
            ]
        except Exception as error:  # noqa: BLE001 - try again next time; it stays unschedulable meanwhile
            logger.warning("cleaning cluster %s failed: %s", cluster, error)
            return
        if not remaining:
            self._health[cluster].cleaning = False
            logger.info("cluster %s cleaned (%d leftover jobs stopped)", cluster, len(left))
