"""The interface between the meter and a GPU: list the GPUs, read one. Nothing else touches NVML."""

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInfo:
    uuid: str  # NVML UUID (GPU-… or MIG-…); simulated GPUs use SIMULATED-…
    index: int
    name: str  # e.g. "NVIDIA A100-SXM4-80GB"
    mig_fraction: float = 1.0  # share of the board this (MIG) device is, for weighting GPU-hours
    simulated: bool = False
    board_uuid: str | None = (
        None  # MIG devices: the board's GPU-… UUID (slices of one board share its energy)
    )


@dataclass(frozen=True)
class GpuReading:
    """One read of one GPU. ``energy_mj`` is None where the counter is NOT_SUPPORTED."""

    uuid: str
    at: float  # seconds, monotonic within one process
    energy_mj: int | None  # nvmlDeviceGetTotalEnergyConsumption: mJ since the driver loaded (64-bit)
    power_mw: int | None  # instantaneous power, for integration when there is no counter
    utilisation_pct: float | None  # GPU engine busy %, 0..100
    memory_used_bytes: int | None
    power_limit_mw: int | None  # enforced power limit, for the sanity check


class DeviceLost(Exception):
    """The GPU fell off the bus or NVML lost it (NVML_ERROR_GPU_IS_LOST); re-initialise and retry."""


class DeviceError(Exception):
    """Any other read failure (uninitialised, timeout); the meter re-initialises and carries on."""


class GpuDevices(ABC):
    """A machine's GPUs."""

    @abstractmethod
    def gpus(self) -> list[GpuInfo]:
        """Every GPU (or MIG device) on this machine."""

    @abstractmethod
    def read(self, uuid: str) -> GpuReading:
        """Read one GPU now; raises DeviceLost or DeviceError."""

    def reinitialise(self) -> None:  # noqa: B027 - a default, not an abstract method
        """Recover after DeviceLost/DeviceError (NVML: shutdown + init). Default: nothing to do."""
