"""``python -m tests.reliability.faulty <celery arguments>``: Celery (worker or beat) with fault points.

Tasks named in ``GG_FAULT_TASKS`` (comma-separated) take the armed fault (tests/reliability/faults.py) when
they start; beat takes an armed ``kill:N`` / ``killafter:N`` at a publish and dies before / after the N-th publish counted
from that one.
"""

import os
import sys

from celery import signals

from tests.reliability import faults

_TASKS = set(filter(None, os.environ.get("GG_FAULT_TASKS", "").split(",")))
_open: dict[str, object] = {}
_publishes = {"fault": None, "count": 0}


@signals.task_prerun.connect
def _arm(sender=None, task_id=None, **kwargs):
    if sender is not None and sender.name in _TASKS:
        fault = faults.take()
        if fault is not None:
            block = faults.armed(fault)
            block.__enter__()
            _open[task_id] = block


@signals.task_postrun.connect
def _disarm(sender=None, task_id=None, **kwargs):
    block = _open.pop(task_id, None)
    if block is not None:
        block.__exit__(None, None, None)


def _beat_fault(after: bool) -> None:
    if _publishes["fault"] is None:
        _publishes["fault"] = faults.take()  # counted from the publish that takes it
        _publishes["count"] = 0
        if _publishes["fault"] is None:
            return
    kind, at = _publishes["fault"]
    if not after:
        _publishes["count"] += 1
    if _publishes["count"] == int(at) and kind == ("killafter" if after else "kill"):
        faults.report("fired", f"{kind}:{at}")
        faults.die()


@signals.before_task_publish.connect
def _before_publish(**kwargs):
    if "beat" in sys.argv:
        _beat_fault(after=False)


@signals.after_task_publish.connect
def _after_publish(**kwargs):
    if "beat" in sys.argv:
        _beat_fault(after=True)


if __name__ == "__main__":
    from celery.__main__ import main

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(main())
