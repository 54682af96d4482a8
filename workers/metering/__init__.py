"""GPU metering: a small device interface (device.py), the pure per-GPU math (meter.py), and devices:
real NVML (nvml.py, the only module importing pynvml), a scripted fake for tests (fake.py), and
simulated GPUs for machines without NVIDIA hardware (simulated.py)."""

import time
from collections.abc import Callable, Iterable

from workers.metering.device import DeviceError, GpuDevices, GpuInfo
from workers.metering.simulated import SimulatedDevices


def devices_for_this_machine(
    *,
    simulated_gpus: Iterable[GpuInfo] = (),
    activity: Callable[[str], float] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> GpuDevices:
    """Real GPUs where NVML initialises and finds at least one; otherwise ``simulated_gpus``.

    ``activity(uuid)`` (0..1) drives the simulated GPUs' readings; without it they idle.
    """
    from workers.metering.nvml import NvmlDevices  # nvidia-ml-py is optional on a node: imported only here

    devices = NvmlDevices(clock=clock)
    try:
        if devices.gpus():
            return devices
        devices.shutdown()
    except DeviceError:
        pass  # no driver, no library or no GPU: this machine gets simulated GPUs
    return SimulatedDevices(simulated_gpus, activity or (lambda uuid: 0.0), clock=clock)
