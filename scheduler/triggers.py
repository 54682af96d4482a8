"""Coalesced requests for a scheduling cycle: many triggers within a moment enqueue one cycle.

The cycle task is sent by name: its module (scheduler/tasks.py) runs the cycle, which moves jobs
(scheduler/transitions.py), which asks for the next cycle here. Naming the task keeps that loop a
message, not an import.
"""

import logging
import time

from celery import current_app
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)
COALESCE_KEY = "scheduler:cycle-requested"
CYCLE_TASK = "scheduler.tasks.scheduling_cycle"


# Set the coalescing key if absent (-1), else answer how many milliseconds it has left: one round trip.
_ADD_OR_TTL = (
    "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end "
    "return redis.call('pttl', KEYS[1])"
)
# Until when (time.monotonic()) this process knows the coalescing key is in the cache, so that the
# cache would refuse to add it: requests before then are answered here, without a round trip.
_key_held = {"until": 0.0}


def cycle_requests_forget() -> None:
    """Forget when the coalescing key expires (tests that empty the cache)."""
    _key_held["until"] = 0.0


def _add_coalesce_key(window_s: int) -> tuple[bool, float]:
    """(added, seconds the key is left for when it was not)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        key = backend.make_and_validate_key(COALESCE_KEY)
        client = backend._cache.get_client(key, write=True)  # noqa: SLF001 - one round trip, not two
        left_ms = client.eval(_ADD_OR_TTL, 1, key, 1, int(window_s * 1000))
        return left_ms == -1, max(int(left_ms), 0) / 1000
    return cache.add(COALESCE_KEY, 1, timeout=window_s), 0.0


def request_cycle(window_s: int = 1) -> bool:
    """Enqueue a scheduling cycle unless one was requested within the last ``window_s`` seconds.

    Under a burst, every submission asks; the answer is "already requested" for all but one a second.
    The cache tells this process how long the coalescing key has left, and until then the process
    answers that itself: the same answer, without a round trip to the cache per submission.
    """
    asked = time.monotonic()
    if asked < _key_held["until"]:
        return False
    added, left_s = _add_coalesce_key(window_s)
    # From the moment of asking: the key cannot expire before asked + what the cache said was left.
    _key_held["until"] = asked + (window_s if added else left_s)
    if not added:
        return False
    try:
        current_app.send_task(CYCLE_TASK)
    except Exception:  # noqa: BLE001 - the broker may be down; beat runs a cycle every few seconds anyway
        logger.warning("could not enqueue a scheduling cycle; beat will run one")
        return False
    return True
