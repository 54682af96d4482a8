"""Keeping GpuNode and Gpu rows in step with what the backend reports."""

from django.db import transaction
from django.utils import timezone

from scheduler.backends.base import Backend
from scheduler.models import Gpu, GpuNode


def inventory_sync(*, backend: Backend, now=None) -> list[str]:
    """Upsert the backend's nodes and their GPUs; returns the names of nodes that vanished."""
    now = now or timezone.now()
    infos = backend.inventory()
    seen = set()
    with transaction.atomic():
        for info in infos:
            seen.add(info.name)
            node, _ = GpuNode.objects.update_or_create(
                name=info.name,
                defaults={
                    "gpu_type": info.gpu_type,
                    "gpu_count": info.gpu_count,
                    "schedulable": info.schedulable,
                    "unschedulable_reason": info.unschedulable_reason[:200],
                    "backend": backend.name,
                    "last_seen_at": now,
                },
            )
            existing = set(Gpu.objects.filter(node=node).values_list("index", flat=True))
            uuids = dict(enumerate(info.gpu_uuids))
            Gpu.objects.bulk_create(
                [
                    Gpu(node=node, index=i, uuid=uuids.get(i, ""))
                    for i in range(info.gpu_count)
                    if i not in existing
                ]
            )
            # GPUs beyond the count vanish once free; claimed ones stay until their job releases them.
            Gpu.objects.filter(node=node, index__gte=info.gpu_count, job__isnull=True).delete()
            foreign = set(info.foreign_gpus)
            Gpu.objects.filter(node=node).exclude(index__in=foreign).filter(external=True).update(
                external=False
            )
            Gpu.objects.filter(node=node, index__in=foreign, job__isnull=True).update(external=True)
        gone = list(
            GpuNode.objects.filter(backend=backend.name, schedulable=True)
            .exclude(name__in=seen)
            .values_list("name", flat=True)
        )
        GpuNode.objects.filter(name__in=gone).update(
            schedulable=False, unschedulable_reason="node no longer reported"
        )
    return gone
