"""The scripted fake (for tests) and the simulated GPUs (for machines without NVIDIA hardware)."""

import pytest

from workers.metering.device import DeviceError, DeviceLost, GpuInfo, GpuReading
from workers.metering.fake import ScriptedDevices, ScriptExhausted
from workers.metering.meter import GpuMeter
from workers.metering.simulated import GIB, SimulatedDevices, board_specs, simulated_gpus


def reading(uuid: str, at: float, energy_mj: int) -> GpuReading:
    return GpuReading(uuid, at, energy_mj, 100_000, 50.0, 1_000, 400_000)


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- ScriptedDevices ---


def test_scripted_devices_return_readings_and_raise_exceptions_in_order():
    lost = DeviceLost("GPU is lost")
    devices = ScriptedDevices({"GPU-a": [reading("GPU-a", 0, 1), lost, reading("GPU-a", 2, 3)], "GPU-b": []})
    assert devices.read("GPU-a").energy_mj == 1
    with pytest.raises(DeviceLost) as caught:
        devices.read("GPU-a")
    assert caught.value is lost
    assert devices.read("GPU-a").energy_mj == 3
    assert devices.reads == {"GPU-a": 3}
    assert devices.remaining("GPU-a") == 0


def test_scripted_devices_count_reinitialisations():
    devices = ScriptedDevices({"GPU-a": []})
    devices.reinitialise()
    devices.reinitialise()
    assert devices.reinitialisations == 2


def test_scripted_devices_fail_loudly_when_the_script_runs_out():
    devices = ScriptedDevices({"GPU-a": [reading("GPU-a", 0, 1)]})
    devices.read("GPU-a")
    with pytest.raises(ScriptExhausted, match="read 2 times"):
        devices.read("GPU-a")


def test_scripted_devices_refuse_an_unscripted_gpu():
    with pytest.raises(DeviceError):
        ScriptedDevices({"GPU-a": []}).read("GPU-b")


def test_scripted_devices_list_default_or_given_gpus():
    assert [(info.uuid, info.index) for info in ScriptedDevices({"GPU-a": [], "GPU-b": []}).gpus()] == [
        ("GPU-a", 0),
        ("GPU-b", 1),
    ]
    mig = GpuInfo("MIG-x", 3, "NVIDIA A100 MIG 3g.40gb", mig_fraction=3 / 7, board_uuid="GPU-board")
    assert ScriptedDevices({"MIG-x": []}, gpus=[mig]).gpus() == [mig]


# --- SimulatedDevices ---


@pytest.mark.parametrize(
    ("name", "activity", "power_w", "limit_w"),
    [
        ("NVIDIA A100-SXM4-80GB", 0.0, 60, 400),
        ("NVIDIA A100-SXM4-80GB", 1.0, 400, 400),
        ("NVIDIA A100-SXM4-80GB", 0.5, 230, 400),
        ("NVIDIA H100 80GB HBM3", 1.0, 700, 700),
        ("NVIDIA H100 80GB HBM3", 0.25, 220, 700),
        ("NVIDIA A100-SXM4-80GB", 7.0, 400, 400),  # activity is clamped to 0..1
        ("NVIDIA A100-SXM4-80GB", -1.0, 60, 400),
        ("NVIDIA L4", 0.0, 21.6, 72),  # a small board idles below 60 W
        ("Some Future GPU", 1.0, 300, 300),
    ],
)
def test_simulated_power_follows_activity_between_idle_and_tdp(name, activity, power_w, limit_w):
    devices = SimulatedDevices(simulated_gpus(name, 1), lambda uuid: activity, clock=Clock())
    got = devices.read("SIMULATED-local-0")
    assert got.power_mw == round(power_w * 1000)
    assert got.power_limit_mw == limit_w * 1000
    assert got.utilisation_pct == pytest.approx(min(1.0, max(0.0, activity)) * 100)


def test_simulated_memory_is_proportional_to_activity():
    activity = {"SIMULATED-n-0": 0.5, "SIMULATED-n-1": 0.0}
    devices = SimulatedDevices(
        simulated_gpus("NVIDIA A100-SXM4-80GB", 2, host="n"), activity.__getitem__, clock=Clock()
    )
    assert devices.read("SIMULATED-n-0").memory_used_bytes == 40 * GIB
    assert devices.read("SIMULATED-n-1").memory_used_bytes == 0


def test_simulated_energy_counter_integrates_power_over_the_clock():
    clock = Clock(100.0)
    activity = {"value": 0.0}
    devices = SimulatedDevices(
        simulated_gpus("NVIDIA A100-SXM4-80GB", 1), lambda uuid: activity["value"], clock=clock
    )
    uuid = "SIMULATED-local-0"
    first = devices.read(uuid)  # 60 W
    clock.now, activity["value"] = 110.0, 1.0
    second = devices.read(uuid)  # 400 W: trapezoid (60 + 400) / 2 × 10 s = 2300 J
    third = devices.read(uuid)  # no time passed: nothing added
    clock.now = 120.0
    fourth = devices.read(uuid)  # 400 W × 10 s
    assert [r.energy_mj - first.energy_mj for r in (second, third, fourth)] == [
        2_300_000,
        2_300_000,
        6_300_000,
    ]
    assert [r.at for r in (first, second, fourth)] == [100.0, 110.0, 120.0]


def test_simulated_gpus_are_deterministic_given_activity_and_clock():
    def trace():
        clock = Clock()
        devices = SimulatedDevices(
            simulated_gpus("NVIDIA H100 80GB HBM3", 2),
            lambda uuid: 0.3 if uuid.endswith("0") else 0.9,
            clock=clock,
        )
        readings = []
        for step in range(5):
            clock.now = step * 7.5
            readings += [devices.read(info.uuid) for info in devices.gpus()]
        return readings

    assert trace() == trace()


def test_simulated_gpus_keep_each_gpu_apart_and_mark_it_simulated():
    devices = SimulatedDevices(
        [
            GpuInfo("SIMULATED-x-0", 0, "NVIDIA A100-SXM4-80GB"),
            GpuInfo("SIMULATED-x-1", 1, "NVIDIA H100 80GB HBM3"),
        ],
        lambda uuid: 1.0,
        clock=Clock(),
    )
    assert all(info.simulated for info in devices.gpus())
    assert devices.read("SIMULATED-x-0").power_mw == 400_000
    assert devices.read("SIMULATED-x-1").power_mw == 700_000


@pytest.mark.parametrize(
    "info",
    [
        GpuInfo("GPU-real-looking", 0, "NVIDIA A100-SXM4-80GB"),
        GpuInfo("SIMULATED-m", 0, "A100", mig_fraction=0.5),
    ],
    ids=["not a SIMULATED- uuid", "a MIG slice"],
)
def test_simulated_devices_refuse_what_they_cannot_simulate(info):
    with pytest.raises(ValueError):
        SimulatedDevices([info], lambda uuid: 0.0)


def test_simulated_read_fails_as_a_device_error_when_the_activity_callback_fails():
    def broken(uuid):
        raise ProcessLookupError("no such process")

    devices = SimulatedDevices(simulated_gpus("A100", 1), broken, clock=Clock())
    with pytest.raises(DeviceError, match="no such process"):
        devices.read("SIMULATED-local-0")
    with pytest.raises(DeviceError):
        devices.read("SIMULATED-local-9")


@pytest.mark.parametrize(
    ("name", "power_w", "memory_gib"),
    [
        ("NVIDIA A100-SXM4-40GB", 400, 40),
        ("NVIDIA A100-PCIE-40GB", 250, 40),
        ("NVIDIA H100 PCIe", 350, 80),
        ("NVIDIA H200", 700, 141),
        ("NVIDIA L40S", 350, 48),
        ("NVIDIA A10", 150, 24),
        ("Tesla V100-SXM2-16GB", 300, 16),
        ("A100", 400, 80),
    ],
)
def test_board_specs_come_from_the_gpu_name(name, power_w, memory_gib):
    assert board_specs(name) == (power_w, memory_gib * GIB)


def test_a_meter_over_a_busy_simulated_gpu_is_exact_and_trusted():
    clock = Clock()
    devices = SimulatedDevices(simulated_gpus("NVIDIA A100-SXM4-80GB", 1), lambda uuid: 1.0, clock=clock)
    meter = GpuMeter("SIMULATED-local-0", simulated=True)
    for second in range(0, 61, 5):
        clock.now = float(second)
        meter.sample(devices.read("SIMULATED-local-0"))
    usage = meter.close_interval()
    assert (usage.energy_mj, usage.estimated, usage.quarantined) == (400 * 60 * 1000, False, False)
    assert (usage.avg_utilisation_pct, usage.avg_power_w) == (100.0, pytest.approx(400.0))
