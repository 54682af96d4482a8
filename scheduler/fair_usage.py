"""Decayed usage per allocation: the fair-share input, updated whenever GPU time is charged.

It is the scheduler's policy (scheduler.core.fairshare), kept on the quotas' Allocation row.
"""

from django.conf import settings

from quotas.models import Allocation
from scheduler.core.fairshare import decay


def decayed_usage_at(allocation_usage: float, as_of, now) -> float:
    return decay(allocation_usage, (now - as_of).total_seconds(), settings.GPUGRANT_FAIRSHARE_HALF_LIFE_S)


def decayed_usage_add(*, allocation_id: int, gpu_seconds: int, now) -> None:
    """Decay the allocation's usage to ``now`` and add ``gpu_seconds``. Locks the Allocation row."""
    allocation = (
        Allocation.objects.select_for_update()
        .only("decayed_usage_gpu_seconds", "decayed_usage_as_of")
        .get(pk=allocation_id)
    )
    allocation.decayed_usage_gpu_seconds = (
        decayed_usage_at(allocation.decayed_usage_gpu_seconds, allocation.decayed_usage_as_of, now)
        + gpu_seconds
    )
    allocation.decayed_usage_as_of = now
    allocation.save(update_fields=["decayed_usage_gpu_seconds", "decayed_usage_as_of"])
