"""Coalesced requests for a scheduling cycle: many triggers within a moment enqueue one cycle.

The cycle task is sent by name: its module (scheduler/tasks.py) runs the cycle, which moves jobs
(scheduler/transitions.py), which asks for the next cycle here. Naming the task keeps that loop a
message, not an import.
"""

import logging

from celery import current_app
from django.core.cache import cache

logger = logging.getLogger(__name__)
COALESCE_KEY = "scheduler:cycle-requested"
CYCLE_TASK = "scheduler.tasks.scheduling_cycle"


def request_cycle(window_s: int = 1) -> bool:
    if not cache.add(COALESCE_KEY, 1, timeout=window_s):
        return False
    try:
        current_app.send_task(CYCLE_TASK)
    except Exception:  # noqa: BLE001 - the broker may be down; beat runs a cycle every few seconds anyway
        logger.warning("could not enqueue a scheduling cycle; beat will run one")
        return False
    return True
