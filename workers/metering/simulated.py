"""Simulated GPUs for machines without NVIDIA hardware: plausible readings driven by each GPU's activity.

Power is idle + activity × (TDP − idle), the energy counter integrates that power over the (injectable)
clock, utilisation is activity × 100 and memory in use is activity × the board's memory. Deterministic
given the activity callback and the clock. Simulated GPUs are whole boards (no MIG).
"""

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from workers.metering.device import DeviceError, GpuDevices, GpuInfo, GpuReading

SIMULATED_PREFIX = "SIMULATED-"
GIB = 1024**3

# (pattern in the GPU name, board power in W, memory in GiB); first match wins, so specific names go first.
_BOARDS: tuple[tuple[str, int, int], ...] = (
    (r"B200", 1000, 180),
    (r"H200", 700, 141),
    (r"H100.*(PCIe|NVL)", 350, 80),
    (r"H100", 700, 80),
    (r"A100.*PCIe.*40GB", 250, 40),
    (r"A100.*PCIe", 300, 80),
    (r"A100", 400, 80),
    (r"L40S", 350, 48),
    (r"L40", 300, 48),
    (r"L4\b", 72, 24),
    (r"A30", 165, 24),
    (r"A10\b", 150, 24),
    (r"V100", 300, 32),
    (r"T4\b", 70, 16),
    (r"RTX 4090", 450, 24),
    (r"A6000", 300, 48),
)
_DEFAULT_BOARD = (300, 24)


def board_specs(name: str) -> tuple[int, int]:
    """(board power in W, memory in bytes) for a GPU name such as "NVIDIA A100-SXM4-80GB"."""
    power_w, memory_gib = next(
        ((power_w, memory_gib) for pattern, power_w, memory_gib in _BOARDS if re.search(pattern, name, re.I)),
        _DEFAULT_BOARD,
    )
    stated = re.search(r"(\d+)\s*GB", name, re.I)  # "…-16GB" beats the table's usual size
    return power_w, (int(stated.group(1)) if stated else memory_gib) * GIB


def simulated_gpus(name: str, count: int, *, host: str = "local", first_index: int = 0) -> list[GpuInfo]:
    """``count`` simulated GPUs called ``name``, with stable UUIDs SIMULATED-<host>-<index>."""
    return [
        GpuInfo(uuid=f"{SIMULATED_PREFIX}{host}-{index}", index=index, name=name, simulated=True)
        for index in range(first_index, first_index + count)
    ]


@dataclass
class _Board:
    info: GpuInfo
    tdp_mw: int
    idle_mw: int
    memory_bytes: int
    energy_mj: float = 0.0
    last_at: float | None = None
    last_power_mw: int | None = None


class SimulatedDevices(GpuDevices):
    """GPUs that exist only in arithmetic. ``activity(uuid)`` says how busy each is, from 0 to 1."""

    def __init__(
        self,
        gpus: Iterable[GpuInfo],
        activity: Callable[[str], float],
        *,
        clock: Callable[[], float] = time.monotonic,
        idle_power_w: float = 60.0,
    ) -> None:
        self._activity = activity
        self._clock = clock
        self._boards: dict[str, _Board] = {}
        for info in gpus:
            if not info.uuid.startswith(SIMULATED_PREFIX):
                raise ValueError(f"simulated GPU UUIDs start with {SIMULATED_PREFIX}: {info.uuid}")
            if info.mig_fraction != 1.0:
                raise ValueError(
                    f"simulated GPUs are whole boards: {info.uuid} has mig_fraction {info.mig_fraction}"
                )
            tdp_w, memory_bytes = board_specs(info.name)
            idle_w = min(idle_power_w, tdp_w * 0.3)  # small boards (L4, T4) idle well below 60 W
            self._boards[info.uuid] = _Board(
                info=replace(info, simulated=True),
                tdp_mw=tdp_w * 1000,
                idle_mw=round(idle_w * 1000),
                memory_bytes=memory_bytes,
            )

    def gpus(self) -> list[GpuInfo]:
        return [board.info for board in self._boards.values()]

    def read(self, uuid: str) -> GpuReading:
        board = self._boards.get(uuid)
        if board is None:
            raise DeviceError(f"no simulated GPU {uuid}")
        try:
            activity = min(1.0, max(0.0, float(self._activity(uuid))))
        except Exception as error:  # the callback is the agent's; a failure is this read's failure
            raise DeviceError(f"activity of {uuid}: {error}") from error
        now = self._clock()
        power_mw = board.idle_mw + round(activity * (board.tdp_mw - board.idle_mw))
        if board.last_at is not None and now > board.last_at:
            board.energy_mj += (board.last_power_mw + power_mw) / 2 * (now - board.last_at)
        board.last_at, board.last_power_mw = now, power_mw
        return GpuReading(
            uuid=uuid,
            at=now,
            energy_mj=int(board.energy_mj),
            power_mw=power_mw,
            utilisation_pct=activity * 100,
            memory_used_bytes=round(activity * board.memory_bytes),
            power_limit_mw=board.tdp_mw,
        )
