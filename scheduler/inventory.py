"""Keeping GpuNode and Gpu rows in step with what the backend reports.

Runs every cycle, so it reads everything in a few queries and writes only what changed.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.providers.models import Cluster
from scheduler.backends.base import Backend
from scheduler.models import Gpu, GpuNode

GONE = "node no longer reported"
SILENT = "its cluster does not answer"


def served_cluster_id() -> int | None:
    """The registered cluster the configured backend serves (settings.GPUGRANT_CLUSTER), or None."""
    name = settings.GPUGRANT_CLUSTER
    if not name:
        return None
    found = Cluster.objects.filter(name=name).values_list("pk", flat=True).first()
    if found is None:
        raise ImproperlyConfigured(f"GPUGRANT_CLUSTER={name!r}: no cluster of that name is registered")
    return found


def inventory_sync(*, backend: Backend, now=None) -> list[str]:
    """Upsert the backend's nodes and their GPUs; returns the names of nodes that vanished."""
    now = now or timezone.now()
    infos = {info.name: info for info in backend.inventory()}
    cluster_id = served_cluster_id()
    # A federated backend says each node's cluster (scheduler/backends/federated.py).
    named = {info.cluster for info in infos.values() if info.cluster}
    cluster_ids = dict(Cluster.objects.filter(name__in=named).values_list("name", "pk")) if named else {}
    if named - set(cluster_ids):
        raise ImproperlyConfigured(f"nodes of unregistered clusters: {sorted(named - set(cluster_ids))}")
    with transaction.atomic():
        nodes = {node.name: node for node in GpuNode.objects.filter(name__in=list(infos))}
        fields = ("gpu_type", "gpu_count", "schedulable", "unschedulable_reason", "backend", "cluster_id")
        changed = []
        for name, info in infos.items():
            wanted = {
                "gpu_type": info.gpu_type,
                "gpu_count": info.gpu_count,
                "schedulable": info.schedulable,
                "unschedulable_reason": info.unschedulable_reason[:200],
                "backend": backend.name,
                "cluster_id": cluster_ids[info.cluster] if info.cluster else cluster_id,
            }
            node = nodes.get(name)
            if node is None:
                nodes[name] = GpuNode.objects.create(name=name, last_seen_at=now, **wanted)
            elif any(getattr(node, f) != v for f, v in wanted.items()):
                for f, v in wanted.items():
                    setattr(node, f, v)
                changed.append(node)
        GpuNode.objects.bulk_update(changed, fields, batch_size=500)
        GpuNode.objects.filter(name__in=list(infos)).update(last_seen_at=now)

        existing: dict[int, dict[int, tuple[bool, bool]]] = {}
        for node_id, gpu_index, job_id, external in Gpu.objects.filter(
            node__name__in=list(infos)
        ).values_list("node_id", "index", "job_id", "external"):
            existing.setdefault(node_id, {})[gpu_index] = (job_id is not None, external)
        new_gpus, stale, mark_external, clear_external = [], [], [], []
        for name, info in infos.items():
            node = nodes[name]
            gpus = existing.get(node.pk, {})
            uuids = dict(enumerate(info.gpu_uuids))
            foreign = set(info.foreign_gpus)
            new_gpus.extend(
                Gpu(node=node, index=i, uuid=uuids.get(i, "")) for i in range(info.gpu_count) if i not in gpus
            )
            for i, (claimed, external) in gpus.items():
                if i >= info.gpu_count and not claimed:
                    stale.append((node.pk, i))  # claimed ones stay until their job releases them
                elif i in foreign and not external and not claimed:
                    mark_external.append((node.pk, i))
                elif i not in foreign and external:
                    clear_external.append((node.pk, i))
        Gpu.objects.bulk_create(new_gpus, batch_size=1000)
        for pairs, action in ((stale, "delete"), (mark_external, True), (clear_external, False)):
            for node_id in {n for n, _ in pairs}:
                rows = Gpu.objects.filter(node_id=node_id, index__in=[i for n, i in pairs if n == node_id])
                rows.delete() if action == "delete" else rows.update(external=action)

        missing = (
            GpuNode.objects.filter(backend=backend.name)
            .filter(Q(schedulable=True) | Q(unschedulable_reason=SILENT))
            .exclude(name__in=list(infos))
        )
        # A federated cluster that does not answer yet was never inventoried by this process: its nodes
        # take nothing new, but are not gone (scheduler/backends/federated.py).
        silent = getattr(backend, "silent_without_inventory", set)()
        if silent:
            missing.filter(cluster__name__in=silent).update(schedulable=False, unschedulable_reason=SILENT)
            missing = missing.exclude(cluster__name__in=silent)
        gone = list(missing.values_list("name", flat=True))
        GpuNode.objects.filter(name__in=gone).update(schedulable=False, unschedulable_reason=GONE)
    return gone
