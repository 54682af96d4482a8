"""Driving every registered cluster at once (GPUGRANT_BACKEND=federated): a backend per cluster from its
row (portal/providers), and what the federation reports turned into the clusters' states.

The backend (scheduler/backends/federated.py) says which clusters stopped answering and which came
back cleaned; here a down cluster is marked offline (by the service, audited) and one that the service
took offline is put back into service once cleaned. A cluster staff took offline stays so.
"""

import hashlib
import logging
from pathlib import Path

import kubernetes
from django.conf import settings
from django.utils.translation import gettext as _

from portal.providers import services as providers
from portal.providers.models import Cluster, ClusterBackend, ClusterGpus, ClusterState
from scheduler.backends.base import Backend, NodeInfo
from scheduler.backends.federated import FederatedBackend
from scheduler.backends.kubernetes import KubernetesBackend
from scheduler.backends.local import LocalBackend
from scheduler.backends.simulated import SimulatedBackend

logger = logging.getLogger(__name__)
GPUS_PER_SIMULATED_NODE = 8


def federated_backend() -> FederatedBackend:
    """The factory GPUGRANT_BACKENDS names: every registered cluster, connected from its row."""
    backend = FederatedBackend(offline_after_s=settings.GPUGRANT_CLUSTER_OFFLINE_AFTER_S)
    members_sync(backend)
    return backend


def members_sync(backend: FederatedBackend) -> None:
    """Connect clusters registered since, reconnect those whose connection changed, drop removed ones."""
    gpus: dict[int, list[tuple[str, int]]] = {}
    for cluster_id, gpu_type, count in ClusterGpus.objects.values_list("cluster_id", "gpu_type", "count"):
        gpus.setdefault(cluster_id, []).append((gpu_type, count))
    members, sources = {}, {}
    for cluster in Cluster.objects.order_by("name"):
        source = (
            cluster.backend,
            cluster.api_url,
            cluster.ca_certificate,
            cluster.token_encrypted,
            tuple(sorted(gpus.get(cluster.pk, []))),
        )
        kept = backend.source(cluster.name) == source
        members[cluster.name] = (
            backend.member(cluster.name) if kept else cluster_backend(cluster, gpus.get(cluster.pk, []))
        )
        sources[cluster.name] = source
    backend.set_members(members, sources)


def cluster_backend(cluster: Cluster, gpus: list[tuple[str, int]]) -> Backend:
    """One cluster's own backend, from its row (its token decrypted here, for the client only)."""
    if cluster.backend == ClusterBackend.KUBERNETES:
        return KubernetesBackend(api_client=_kubernetes_client(cluster))
    if cluster.backend == ClusterBackend.SIMULATED:
        return SimulatedBackend(nodes=simulated_cluster_nodes(gpus))
    return LocalBackend()


def simulated_cluster_nodes(gpus: list[tuple[str, int]]) -> list[NodeInfo]:
    """The nodes of a simulated cluster: each GPU type's count in nodes of 8 (the last one may be smaller)."""
    nodes = []
    for gpu_type, count in sorted(gpus):
        for i, start in enumerate(range(0, count, GPUS_PER_SIMULATED_NODE)):
            size = min(GPUS_PER_SIMULATED_NODE, count - start)
            nodes.append(NodeInfo(f"{gpu_type.lower()}-{i + 1:02d}", gpu_type, size))
    return nodes


def _kubernetes_client(cluster: Cluster):
    configuration = kubernetes.client.Configuration()
    configuration.host = cluster.api_url
    if cluster.ca_certificate:
        # The client reads the CA from a file: one per certificate (public, never the token), written once.
        digest = hashlib.sha256(cluster.ca_certificate.encode()).hexdigest()[:16]
        path = Path(settings.VAR_DIR) / "cluster-ca" / f"{cluster.name}-{digest}.crt"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(cluster.ca_certificate)
        configuration.ssl_ca_cert = str(path)
    token = providers.cluster_token(cluster)
    if token:
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    configuration.connection_pool_maxsize = max(1, settings.GPUGRANT_K8S_BURST) + 2
    return kubernetes.client.ApiClient(configuration)


def health_record(backend: FederatedBackend) -> dict[str, str]:
    """Mark clusters that went down offline and put back those the service took offline once they are
    clean; returns cluster → the state it was moved to."""
    moved = {}
    states = dict(Cluster.objects.values_list("name", "state"))
    by_service = set(Cluster.objects.filter(state_set_by_service=True).values_list("name", flat=True))
    for name, health in backend.health().items():
        state = states.get(name)
        if state is None:
            continue
        if health.down and state != ClusterState.OFFLINE:
            reason = _("its API server has not answered for %(seconds)d s: %(error)s") % {
                "seconds": backend.offline_after_s,
                "error": health.error,
            }
            _set_state(name, ClusterState.OFFLINE, reason)
            moved[name] = ClusterState.OFFLINE
        elif (
            not health.down
            and not health.cleaning
            and health.last_answer is not None
            and state == ClusterState.OFFLINE
            and name in by_service
        ):
            _set_state(name, ClusterState.ACTIVE, _("it answers again and what was left there was stopped"))
            moved[name] = ClusterState.ACTIVE
    return moved


def _set_state(name: str, state: str, reason: str) -> None:
    logger.warning("cluster %s: %s (%s)", name, state, reason)
    providers.cluster_set_state(
        staff=None, cluster=Cluster.objects.get(name=name), state=state, reason=reason
    )
