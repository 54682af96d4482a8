"""Benchmark: CPU time the node agent spends per GPU per sample on metering.

    python -m bench.metering_cost [--gpus 8] [--samples 20000] [--nvml-samples 2000] [--repeat 3] [--json OUT]

One sample of one GPU is ``devices.read(uuid)`` followed by ``meter.sample(reading)``, with an interval
closed every ``--interval`` samples, as the agent does. Measured with ``time.process_time`` (CPU, not wall
clock), over ``--samples`` sweeps of all GPUs, median of ``--repeat`` runs, for:

- baseline: a device that returns a ready reading and a meter that does nothing (the loop itself);
- simulated: SimulatedDevices (activity callback, power model, counter integration) + GpuMeter;
- nvml: the real NvmlDevices + GpuMeter over this machine's GPUs, when NVML finds any (skipped otherwise,
  with the reason); ``--nvml-samples`` sweeps, because real reads go through the driver.

The target is under 1 ms of CPU per GPU per sample.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

from workers.metering.device import DeviceError, GpuDevices, GpuInfo, GpuReading
from workers.metering.meter import GpuMeter
from workers.metering.simulated import SimulatedDevices, simulated_gpus

TARGET_MS = 1.0
SECONDS_PER_SWEEP = 5.0  # the agent's read period: the simulated clock advances this much per sweep


class _ReadyDevices(GpuDevices):
    def __init__(self, gpus: list[GpuInfo]) -> None:
        self._gpus = gpus
        self._readings = {info.uuid: GpuReading(info.uuid, 0.0, 0, 0, 0.0, 0, 0) for info in gpus}

    def gpus(self) -> list[GpuInfo]:
        return self._gpus

    def read(self, uuid: str) -> GpuReading:
        return self._readings[uuid]


class _NoMeter:
    def sample(self, reading: GpuReading) -> None:
        pass

    def close_interval(self, at: float | None = None) -> None:
        pass


def cpu_seconds(
    devices: GpuDevices, meters: dict, sweeps: int, interval: int, advance: Callable[[], None] = lambda: None
) -> float:
    uuids = [info.uuid for info in devices.gpus()]
    started = time.process_time()
    for sweep in range(1, sweeps + 1):
        advance()
        for uuid in uuids:
            meters[uuid].sample(devices.read(uuid))
        if sweep % interval == 0:
            for uuid in uuids:
                meters[uuid].close_interval()
    return time.process_time() - started


def measure(
    make: Callable[[], tuple[GpuDevices, dict, Callable[[], None]]], sweeps: int, interval: int, repeat: int
):
    per_sample_us = []
    gpus = 0
    for _ in range(repeat):
        devices, meters, advance = make()
        gpus = len(devices.gpus())
        per_sample_us.append(cpu_seconds(devices, meters, sweeps, interval, advance) / (sweeps * gpus) * 1e6)
    return {
        "gpus": gpus,
        "sweeps": sweeps,
        "cpu_us_per_gpu_sample": round(statistics.median(per_sample_us), 3),
        "runs_us": [round(value, 3) for value in per_sample_us],
    }


def baseline(gpu_count: int):
    gpus = simulated_gpus("NVIDIA A100-SXM4-80GB", gpu_count, host="bench")
    return _ReadyDevices(gpus), {info.uuid: _NoMeter() for info in gpus}, lambda: None


def simulated(gpu_count: int):
    clock = {"now": 0.0}
    gpus = simulated_gpus("NVIDIA A100-SXM4-80GB", gpu_count, host="bench")
    activity = {info.uuid: (index % 4) / 3 for index, info in enumerate(gpus)}
    devices = SimulatedDevices(gpus, activity.__getitem__, clock=lambda: clock["now"])

    def advance():
        clock["now"] += SECONDS_PER_SWEEP

    return devices, {info.uuid: GpuMeter(info.uuid, simulated=True) for info in gpus}, advance


def real_nvml():
    from workers.metering.nvml import NvmlDevices

    devices = NvmlDevices()
    gpus = devices.gpus()
    return (
        devices,
        {info.uuid: GpuMeter(info.uuid, mig_fraction=info.mig_fraction) for info in gpus},
        lambda: None,
    )


def nvml_unavailable() -> str | None:
    from workers.metering.nvml import NvmlDevices

    try:
        devices = NvmlDevices()
        count = len(devices.gpus())
        devices.shutdown()
    except DeviceError as error:
        return f"no NVML here ({error})"
    return None if count else "NVML found no GPU"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument(
        "--samples", type=int, default=20_000, help="sweeps of all GPUs (simulated, baseline)"
    )
    parser.add_argument("--nvml-samples", type=int, default=2_000, help="sweeps of all GPUs with real NVML")
    parser.add_argument("--interval", type=int, default=12, help="samples per closed interval (12 × 5 s)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)

    results = {
        "baseline": measure(lambda: baseline(args.gpus), args.samples, args.interval, args.repeat),
        "simulated": measure(lambda: simulated(args.gpus), args.samples, args.interval, args.repeat),
    }
    results["simulated"]["net_of_baseline_us"] = round(
        results["simulated"]["cpu_us_per_gpu_sample"] - results["baseline"]["cpu_us_per_gpu_sample"], 3
    )
    skipped = nvml_unavailable()
    if skipped:
        results["nvml"] = {"skipped": skipped}
    else:
        results["nvml"] = measure(real_nvml, args.nvml_samples, args.interval, args.repeat)
        results["nvml"]["net_of_baseline_us"] = round(
            results["nvml"]["cpu_us_per_gpu_sample"] - results["baseline"]["cpu_us_per_gpu_sample"], 3
        )
    measured = [
        result["cpu_us_per_gpu_sample"] for result in results.values() if "cpu_us_per_gpu_sample" in result
    ]
    report = {
        "command": "python -m bench.metering_cost " + " ".join(sys.argv[1:] if argv is None else argv),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "target_ms_per_gpu_sample": TARGET_MS,
        "meets_target": max(measured) / 1000 < TARGET_MS,
        "results": results,
    }

    for name, result in results.items():
        if "skipped" in result:
            print(f"{name:>10}: skipped: {result['skipped']}")
        else:
            net = (
                f" (net of baseline {result['net_of_baseline_us']:.2f} µs)"
                if "net_of_baseline_us" in result
                else ""
            )
            print(
                f"{name:>10}: {result['cpu_us_per_gpu_sample']:8.2f} µs CPU per GPU per sample{net}, "
                f"{result['gpus']} GPUs × {result['sweeps']} samples, median of {len(result['runs_us'])}"
            )
    print(f"target < {TARGET_MS} ms per GPU per sample: {'met' if report['meets_target'] else 'NOT met'}")
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump(report, out, indent=2)
    return report


if __name__ == "__main__":
    main()
