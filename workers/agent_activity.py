"""How busy a job's processes are (CPU share, 0..1), from /proc: what drives simulated GPUs' power.

On a machine without NVIDIA GPUs the local backend's jobs run on the CPU; feeding their CPU activity
to the simulated GPUs makes simulated power follow the job's real work instead of a constant.
"""

import os
import time
from collections.abc import Callable
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")
SCAN_REUSE_SECONDS = 0.05  # one sample round reads every GPU within this; they share one /proc pass


def cpu_seconds_by_group() -> dict[int, float]:
    """Process group id → user + system CPU seconds of its live processes, from one pass over /proc."""
    ticks: dict[int, int] = {}
    try:
        entries = os.scandir(_PROC)
    except OSError:
        return {}
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # it exited while we looked
            fields = stat[stat.rindex(")") + 2 :].split()
            # proc(5): fields 3.. follow the command; pgrp is field 5, utime 14, stime 15.
            group = int(fields[2])
            ticks[group] = ticks.get(group, 0) + int(fields[11]) + int(fields[12])
    return {group: count / _TICKS_PER_SECOND for group, count in ticks.items()}


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid`` (0 where /proc is absent)."""
    return cpu_seconds_by_group().get(pgid, 0.0)


class ProcessActivity:
    """``activity(uuid)``: the CPU share of the process group bound to that GPU since the previous call.

    ``groups()`` maps GPU uuids to child records ({"pgid", …}) of the local runner; GPUs with none are idle.
    A group's share is its CPU seconds per wall second, capped at 1 (a job using four cores is "busy").
    """

    def __init__(
        self,
        groups: Callable[[], dict[str, dict]],
        *,
        cpu_seconds: Callable[[int], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``cpu_seconds(pgid)`` defaults to one /proc pass shared by the GPUs read within SCAN_REUSE_SECONDS."""
        self.groups = groups
        self.cpu_seconds = cpu_seconds
        self.clock = clock
        self._last: dict[str, tuple[int, float, float, float]] = {}  # uuid → (pgid, cpu s, at, activity)
        self._scan: tuple[float, dict[int, float]] | None = None

    def __call__(self, uuid: str) -> float:
        child = self.groups().get(uuid)
        if not child or "pgid" not in child:
            self._last.pop(uuid, None)
            return 0.0
        pgid = int(child["pgid"])
        cpu, at = self._measure(pgid)
        previous = self._last.get(uuid)
        if previous is not None and previous[0] == pgid and at <= previous[2]:
            return previous[3]  # the same measurement as last time
        activity = 0.0
        if previous is not None and previous[0] == pgid:
            activity = min(1.0, max(0.0, (cpu - previous[1]) / (at - previous[2])))
        self._last[uuid] = (pgid, cpu, at, activity)
        return activity

    def _measure(self, pgid: int) -> tuple[float, float]:
        """(CPU seconds of the group, when they were read)."""
        if self.cpu_seconds is not None:
            return self.cpu_seconds(pgid), self.clock()
        now = self.clock()
        if self._scan is None or now - self._scan[0] > SCAN_REUSE_SECONDS:
            self._scan = (now, cpu_seconds_by_group())
        return self._scan[1].get(pgid, 0.0), self._scan[0]
