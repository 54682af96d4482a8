"""Coalesced requests for a scheduling cycle: many triggers within a moment enqueue one cycle."""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)
COALESCE_KEY = "scheduler:cycle-requested"


def request_cycle(window_s: int = 1) -> bool:
    if not cache.add(COALESCE_KEY, 1, timeout=window_s):
        return False
    from scheduler.tasks import scheduling_cycle

    try:
        scheduling_cycle.delay()
    except Exception:  # noqa: BLE001 - the broker may be down; beat runs a cycle every few seconds anyway
        logger.warning("could not enqueue a scheduling cycle; beat will run one")
        return False
    return True
