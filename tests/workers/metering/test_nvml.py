"""NvmlDevices: against a monkeypatched NVML everywhere, and against the real one where there is a GPU."""

import ast
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pynvml
import pytest

import workers
from tests.workers.metering.fake_nvml import FakeBoard, FakeMig, FakeNvml
from workers.metering import devices_for_this_machine, nvml
from workers.metering.device import DeviceError, DeviceLost
from workers.metering.meter import GpuMeter
from workers.metering.nvml import NvmlDevices
from workers.metering.simulated import SimulatedDevices, simulated_gpus

GPU0 = "GPU-aaaaaaaa-0000-0000-0000-000000000000"
GPU1 = "GPU-bbbbbbbb-0000-0000-0000-000000000000"
MIG_BOARD = "GPU-cccccccc-0000-0000-0000-000000000000"
MIG_4G = "MIG-dddddddd-0000-0000-0000-000000000000"
MIG_3G = "MIG-eeeeeeee-0000-0000-0000-000000000000"


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake(monkeypatch):
    boards = [
        FakeBoard(GPU0),
        FakeBoard(
            GPU1, name="NVIDIA L4", mig_mode=0, energy_mj=None, power_field_mw=None, power_usage_mw=30_000
        ),
        FakeBoard(
            MIG_BOARD,
            name="NVIDIA H100 80GB HBM3",
            limit_mw=700_000,
            mig_mode=1,
            migs=[
                FakeMig(MIG_4G, "NVIDIA H100 80GB HBM3 MIG 4g.40gb", slices=4, memory_used=7_000),
                FakeMig(MIG_3G, "NVIDIA H100 80GB HBM3 MIG 3g.40gb", slices=3),
            ],
        ),
    ]
    return FakeNvml(boards).install(monkeypatch)


def test_it_initialises_nvml_lazily_and_once(fake):
    devices = NvmlDevices()
    assert fake.calls["nvmlInit"] == 0
    devices.gpus()
    devices.read(GPU0)
    assert fake.calls["nvmlInit"] == 1


def test_it_lists_gpus_and_the_mig_devices_of_mig_boards(fake):
    gpus = {info.uuid: info for info in NvmlDevices().gpus()}
    assert set(gpus) == {GPU0, GPU1, MIG_4G, MIG_3G}  # a MIG board is listed as its MIG devices
    assert (gpus[GPU0].index, gpus[GPU0].name, gpus[GPU0].mig_fraction, gpus[GPU0].board_uuid) == (
        0,
        "NVIDIA A100-SXM4-80GB",
        1.0,
        None,
    )
    assert gpus[GPU1].mig_fraction == 1.0  # MIG-capable, MIG disabled
    assert (gpus[MIG_4G].index, gpus[MIG_4G].board_uuid) == (2, MIG_BOARD)
    assert gpus[MIG_4G].mig_fraction == pytest.approx(4 / 7)
    assert gpus[MIG_3G].mig_fraction == pytest.approx(3 / 7)
    assert not any(info.simulated for info in gpus.values())


def test_it_falls_back_to_the_memory_share_when_nvml_gives_no_slice_count(fake):
    fake.boards[2].migs[1].attributes_supported = False
    fake.boards[2].migs[1].memory_total = 20 * 1024**3
    gpus = {info.uuid: info for info in NvmlDevices().gpus()}
    assert gpus[MIG_3G].mig_fraction == pytest.approx(20 / 80)


def test_it_reads_counter_instant_power_utilisation_memory_and_limit(fake):
    clock = Clock(42.5)
    reading = NvmlDevices(clock=clock).read(GPU0)
    assert reading.uuid == GPU0
    assert reading.at == 42.5
    assert reading.energy_mj == 123_456_789
    assert reading.power_mw == 210_000  # the instant field, not the averaged nvmlDeviceGetPowerUsage
    assert reading.utilisation_pct == 57.0
    assert reading.memory_used_bytes == 5 * 1024**3
    assert reading.power_limit_mw == 400_000
    assert fake.calls["nvmlDeviceGetPowerUsage"] == 0


def test_it_reports_no_energy_where_the_counter_is_not_supported(fake):
    reading = NvmlDevices().read(GPU1)
    assert reading.energy_mj is None
    assert reading.power_mw == 30_000  # the instant field is NOT_SUPPORTED too: nvmlDeviceGetPowerUsage
    assert reading.power_limit_mw == 400_000


def test_a_meter_integrates_power_for_a_gpu_without_counter(fake):
    clock = Clock(0.0)
    devices = NvmlDevices(clock=clock)
    meter = GpuMeter(GPU1)
    meter.sample(devices.read(GPU1))
    clock.now = 10.0
    meter.sample(devices.read(GPU1))
    usage = meter.close_interval()
    assert (usage.energy_mj, usage.estimated) == (30 * 10 * 1000, True)


def test_it_stops_asking_for_the_instant_power_field_once_not_supported(fake):
    devices = NvmlDevices()
    for _ in range(3):
        devices.read(GPU1)
    assert fake.calls["nvmlDeviceGetFieldValues"] == 1
    assert fake.calls["nvmlDeviceGetPowerUsage"] == 3


def test_it_uses_power_usage_where_the_binding_has_no_instant_field(fake, monkeypatch):
    monkeypatch.setattr(nvml, "POWER_INSTANT_FIELD", None)
    assert NvmlDevices().read(GPU0).power_mw == 200_000
    assert fake.calls["nvmlDeviceGetFieldValues"] == 0


def test_it_reads_a_mig_device_board_energy_and_power_with_its_own_memory(fake):
    reading = NvmlDevices().read(MIG_4G)
    board = fake.boards[2]
    assert (reading.energy_mj, reading.power_mw, reading.power_limit_mw) == (
        board.energy_mj,
        board.power_field_mw,
        700_000,
    )
    assert reading.memory_used_bytes == 7_000
    assert reading.utilisation_pct is None  # NVML does not report it for MIG devices


@pytest.mark.parametrize(
    ("function", "code", "raised"),
    [
        ("nvmlDeviceGetTotalEnergyConsumption", pynvml.NVML_ERROR_GPU_IS_LOST, DeviceLost),
        ("nvmlDeviceGetFieldValues", pynvml.NVML_ERROR_GPU_IS_LOST, DeviceLost),
        ("nvmlDeviceGetUtilizationRates", pynvml.NVML_ERROR_GPU_IS_LOST, DeviceLost),
        ("nvmlDeviceGetMemoryInfo", pynvml.NVML_ERROR_GPU_IS_LOST, DeviceLost),
        ("nvmlDeviceGetEnforcedPowerLimit", pynvml.NVML_ERROR_GPU_IS_LOST, DeviceLost),
        ("nvmlDeviceGetTotalEnergyConsumption", pynvml.NVML_ERROR_UNINITIALIZED, DeviceError),
        ("nvmlDeviceGetTotalEnergyConsumption", pynvml.NVML_ERROR_TIMEOUT, DeviceError),
        ("nvmlDeviceGetUtilizationRates", pynvml.NVML_ERROR_UNKNOWN, DeviceError),
        ("nvmlDeviceGetMemoryInfo", pynvml.NVML_ERROR_RESET_REQUIRED, DeviceError),
    ],
)
def test_it_maps_nvml_errors(fake, function, code, raised):
    devices = NvmlDevices()
    devices.gpus()
    fake.fail(function, GPU0, code)
    with pytest.raises(raised) as caught:
        devices.read(GPU0)
    assert type(caught.value) is raised  # DeviceLost is not a DeviceError, nor the other way round
    assert isinstance(caught.value.__cause__, pynvml.NVMLError)


@pytest.mark.parametrize(
    ("field_return", "raised"),
    [(pynvml.NVML_ERROR_GPU_IS_LOST, DeviceLost), (pynvml.NVML_ERROR_UNKNOWN, DeviceError)],
)
def test_it_maps_errors_inside_the_power_field(fake, field_return, raised):
    fake.field_return[GPU0] = field_return
    with pytest.raises(raised):
        NvmlDevices().read(GPU0)


@pytest.mark.parametrize(
    "function",
    ["nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetEnforcedPowerLimit"],
)
def test_it_reads_not_supported_fields_as_none(fake, function):
    devices = NvmlDevices()
    devices.gpus()
    fake.fail(function, GPU0, pynvml.NVML_ERROR_NOT_SUPPORTED)
    reading = devices.read(GPU0)
    assert reading.energy_mj == 123_456_789
    assert None in (reading.utilisation_pct, reading.memory_used_bytes, reading.power_limit_mw)


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, DeviceError),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, DeviceError),
        (pynvml.NVML_ERROR_GPU_IS_LOST, DeviceLost),
    ],
)
def test_it_maps_initialisation_errors(fake, code, raised):
    fake.init_error = code
    with pytest.raises(raised):
        NvmlDevices().gpus()


def test_it_refuses_a_gpu_it_does_not_have(fake):
    with pytest.raises(DeviceError, match="no GPU"):
        NvmlDevices().read("GPU-not-here")


def test_it_reinitialises_with_fresh_handles_after_a_lost_gpu(fake):
    devices = NvmlDevices()
    devices.read(GPU0)
    fake.fail("nvmlDeviceGetTotalEnergyConsumption", GPU0, pynvml.NVML_ERROR_GPU_IS_LOST)
    with pytest.raises(DeviceLost):
        devices.read(GPU0)
    fake.heal()
    devices.reinitialise()
    assert (fake.calls["nvmlShutdown"], fake.calls["nvmlInit"]) == (1, 2)
    # The old handles belonged to the NVML session that was shut down: reading works only with new ones.
    assert devices.read(GPU0).energy_mj == 123_456_789
    assert {info.uuid for info in devices.gpus()} == {GPU0, GPU1, MIG_4G, MIG_3G}


def test_it_reinitialises_even_when_the_shutdown_fails(fake):
    devices = NvmlDevices()
    devices.gpus()
    fake.shutdown_error = pynvml.NVML_ERROR_UNINITIALIZED
    devices.reinitialise()
    assert fake.calls["nvmlInit"] == 2
    assert devices.read(GPU0).power_mw == 210_000


def test_a_failed_reinitialisation_raises_and_the_next_one_recovers(fake):
    devices = NvmlDevices()
    devices.gpus()
    fake.init_error = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    with pytest.raises(DeviceError):
        devices.reinitialise()
    fake.init_error = None
    devices.reinitialise()
    assert devices.read(GPU0).energy_mj == 123_456_789


def test_this_machine_uses_nvml_when_it_finds_gpus(fake):
    assert isinstance(devices_for_this_machine(), NvmlDevices)


@pytest.mark.parametrize("setup", ["no NVML", "no GPU"])
def test_this_machine_falls_back_to_simulated_gpus(fake, setup):
    if setup == "no NVML":
        fake.init_error = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    else:
        fake.boards.clear()
    devices = devices_for_this_machine(simulated_gpus=simulated_gpus("NVIDIA A100-SXM4-80GB", 2))
    assert isinstance(devices, SimulatedDevices)
    assert [info.uuid for info in devices.gpus()] == ["SIMULATED-local-0", "SIMULATED-local-1"]


# --- the real NVML: run these on a GPU machine with `.venv/bin/python -m pytest -m gpu tests/workers` ---


def _real_nvml_unavailable() -> str | None:
    hint = "run `.venv/bin/python -m pytest -m gpu tests/workers` on a machine with an NVIDIA GPU"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        smi = "nvidia-smi present" if shutil.which("nvidia-smi") else "no nvidia-smi"
        return f"needs an NVIDIA GPU and NVML: nvmlInit failed ({error}; {smi}); {hint}"
    try:
        count = pynvml.nvmlDeviceGetCount()
    finally:
        pynvml.nvmlShutdown()
    return None if count else f"needs an NVIDIA GPU: NVML initialised but found none; {hint}"


_UNAVAILABLE = _real_nvml_unavailable()
needs_real_gpu = pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")


def _poll_until(condition, seconds: float):
    """Poll without sleeping until ``condition()`` returns something true or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
    return None


@pytest.fixture
def real_devices():
    devices = NvmlDevices()
    yield devices
    devices.shutdown()


@pytest.mark.gpu
@needs_real_gpu
def test_real_nvml_lists_gpus_by_uuid(real_devices):
    gpus = real_devices.gpus()
    assert gpus
    for info in gpus:
        assert info.uuid.startswith(("GPU-", "MIG-"))
        assert 0 < info.mig_fraction <= 1
        assert (info.board_uuid is not None) == info.uuid.startswith("MIG-")


@pytest.mark.gpu
@needs_real_gpu
def test_real_nvml_readings_are_plausible(real_devices):
    for info in real_devices.gpus():
        reading = real_devices.read(info.uuid)
        assert reading.uuid == info.uuid
        assert reading.power_mw is None or reading.power_mw > 0
        if reading.power_mw is not None and reading.power_limit_mw:
            assert reading.power_mw <= reading.power_limit_mw * 1.5
        assert reading.energy_mj is None or reading.energy_mj > 0  # mJ since the driver loaded
        assert reading.memory_used_bytes is None or reading.memory_used_bytes >= 0
        assert reading.utilisation_pct is None or 0 <= reading.utilisation_pct <= 100


@pytest.mark.gpu
@needs_real_gpu
def test_real_nvml_energy_moves_and_the_meter_trusts_it(real_devices):
    info = real_devices.gpus()[0]
    meter = GpuMeter(info.uuid, mig_fraction=info.mig_fraction)
    first = real_devices.read(info.uuid)
    meter.sample(first)

    def moved():
        reading = real_devices.read(info.uuid)
        meter.sample(reading)
        counter_moved = reading.energy_mj is not None and reading.energy_mj > first.energy_mj
        return (
            reading if counter_moved or (reading.energy_mj is None and reading.at - first.at > 0.5) else None
        )

    assert _poll_until(moved, seconds=5.0) is not None, "the energy counter did not move within 5 s"
    usage = meter.close_interval()
    assert usage.energy_mj > 0
    assert not usage.quarantined, usage


@pytest.mark.gpu
@needs_real_gpu
def test_real_nvml_reinitialises_to_the_same_gpus(real_devices):
    before = [info.uuid for info in real_devices.gpus()]
    real_devices.reinitialise()
    assert [info.uuid for info in real_devices.gpus()] == before
    assert real_devices.read(before[0]).uuid == before[0]


# --- where NVML and Django may be imported ---


def test_only_the_nvml_module_imports_pynvml():
    root = Path(workers.__file__).parent
    importers = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(name.split(".")[0] == "pynvml" for name in names):
                importers.add(path.relative_to(root).as_posix())
    assert importers == {"metering/nvml.py"}


def test_metering_imports_no_django():
    modules = ["workers.metering", "workers.metering.meter", "workers.metering.nvml"]
    modules += ["workers.metering.fake", "workers.metering.simulated", "bench.metering_cost"]
    code = f"import sys; import {', '.join(modules)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
