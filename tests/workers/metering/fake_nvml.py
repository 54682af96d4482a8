"""A small stand-in for NVML, installed over pynvml's functions with monkeypatch: boards, MIG devices,
NOT_SUPPORTED where real drivers answer it, injectable errors, and handles that go stale on shutdown."""

from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml

# GPU-instance profile → slices, as on A100/H100 (1g, 2g, 3g, 4g, 7g); other profiles are NOT_SUPPORTED.
PROFILE_SLICES = {
    pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE: 1,
    pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE: 2,
    pynvml.NVML_GPU_INSTANCE_PROFILE_3_SLICE: 3,
    pynvml.NVML_GPU_INSTANCE_PROFILE_4_SLICE: 4,
    pynvml.NVML_GPU_INSTANCE_PROFILE_7_SLICE: 7,
}


@dataclass
class FakeMig:
    uuid: str
    name: str
    slices: int
    memory_used: int = 1_000
    memory_total: int = 10 * 1024**3
    attributes_supported: bool = True


@dataclass
class FakeBoard:
    uuid: str
    name: str = "NVIDIA A100-SXM4-80GB"
    energy_mj: int | None = 123_456_789  # None: NOT_SUPPORTED (pre-Volta)
    power_field_mw: int | None = 210_000  # NVML_FI_DEV_POWER_INSTANT; None: NOT_SUPPORTED
    power_usage_mw: int | None = 200_000  # nvmlDeviceGetPowerUsage; None: NOT_SUPPORTED
    utilisation: int = 57
    memory_used: int = 5 * 1024**3
    memory_total: int = 80 * 1024**3
    limit_mw: int = 400_000
    mig_mode: int | None = None  # None: the board has no MIG (NOT_SUPPORTED); 0 disabled; 1 enabled
    migs: list[FakeMig] = field(default_factory=list)


@dataclass(frozen=True)
class Handle:
    generation: int
    uuid: str


def nvml_error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)


class FakeNvml:
    FUNCTIONS = (
        "nvmlInit",
        "nvmlShutdown",
        "nvmlDeviceGetCount",
        "nvmlDeviceGetHandleByIndex",
        "nvmlDeviceGetUUID",
        "nvmlDeviceGetName",
        "nvmlDeviceGetMigMode",
        "nvmlDeviceGetMaxMigDeviceCount",
        "nvmlDeviceGetMigDeviceHandleByIndex",
        "nvmlDeviceGetGpuInstanceProfileInfo",
        "nvmlDeviceGetAttributes",
        "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetTotalEnergyConsumption",
        "nvmlDeviceGetFieldValues",
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetEnforcedPowerLimit",
    )

    def __init__(self, boards: list[FakeBoard]) -> None:
        self.boards = boards
        self.initialised = False
        self.generation = 0
        self.calls: Counter[str] = Counter()
        self.init_error: int | None = None
        self.shutdown_error: int | None = None
        self.field_return: dict[str, int] = {}  # board uuid → nvmlReturn of the power field
        self._errors: dict[tuple[str, str], int] = {}

    def install(self, monkeypatch) -> "FakeNvml":
        for name in self.FUNCTIONS:
            monkeypatch.setattr(pynvml, name, self._counted(name, getattr(self, name)))
        return self

    def fail(self, function: str, uuid: str, code: int) -> None:
        """Make ``function`` raise NVMLError(code) for the device ``uuid`` from now on."""
        self._errors[(function, uuid)] = code

    def heal(self) -> None:
        self._errors.clear()
        self.field_return.clear()

    def _counted(self, name, function):
        def counted(*args, **kwargs):
            self.calls[name] += 1
            return function(*args, **kwargs)

        return counted

    def _device(self, handle: Handle, function: str) -> FakeBoard | FakeMig:
        if not self.initialised or handle.generation != self.generation:
            raise nvml_error(pynvml.NVML_ERROR_UNINITIALIZED)
        if (function, handle.uuid) in self._errors:
            raise nvml_error(self._errors[(function, handle.uuid)])
        for board in self.boards:
            if board.uuid == handle.uuid:
                return board
            for mig in board.migs:
                if mig.uuid == handle.uuid:
                    return mig
        raise nvml_error(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    def _board(self, handle: Handle, function: str) -> FakeBoard:
        device = self._device(handle, function)
        if isinstance(device, FakeMig):
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)  # board-level quantities
        return device

    def nvmlInit(self):
        if self.init_error is not None:
            raise nvml_error(self.init_error)
        self.initialised = True
        self.generation += 1

    def nvmlShutdown(self):
        if self.shutdown_error is not None:
            raise nvml_error(self.shutdown_error)
        if not self.initialised:
            raise nvml_error(pynvml.NVML_ERROR_UNINITIALIZED)
        self.initialised = False

    def nvmlDeviceGetCount(self):
        if not self.initialised:
            raise nvml_error(pynvml.NVML_ERROR_UNINITIALIZED)
        return len(self.boards)

    def nvmlDeviceGetHandleByIndex(self, index):
        if not self.initialised:
            raise nvml_error(pynvml.NVML_ERROR_UNINITIALIZED)
        return Handle(self.generation, self.boards[index].uuid)

    def nvmlDeviceGetUUID(self, handle):
        return self._device(handle, "nvmlDeviceGetUUID").uuid

    def nvmlDeviceGetName(self, handle):
        return self._device(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetMigMode(self, handle):
        board = self._board(handle, "nvmlDeviceGetMigMode")
        if board.mig_mode is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return [board.mig_mode, board.mig_mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        self._board(handle, "nvmlDeviceGetMaxMigDeviceCount")
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index):
        board = self._board(handle, "nvmlDeviceGetMigDeviceHandleByIndex")
        if index >= len(board.migs):
            raise nvml_error(pynvml.NVML_ERROR_NOT_FOUND)
        return Handle(self.generation, board.migs[index].uuid)

    def nvmlDeviceGetGpuInstanceProfileInfo(self, handle, profile, version=2):
        self._board(handle, "nvmlDeviceGetGpuInstanceProfileInfo")
        if profile not in PROFILE_SLICES:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(sliceCount=PROFILE_SLICES[profile])

    def nvmlDeviceGetAttributes(self, handle):
        device = self._device(handle, "nvmlDeviceGetAttributes")
        if isinstance(device, FakeBoard) or not device.attributes_supported:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(gpuInstanceSliceCount=device.slices)

    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        device = self._device(handle, "nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(used=device.memory_used, total=device.memory_total)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        board = self._board(handle, "nvmlDeviceGetTotalEnergyConsumption")
        if board.energy_mj is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return board.energy_mj

    def nvmlDeviceGetFieldValues(self, handle, field_ids):
        board = self._board(handle, "nvmlDeviceGetFieldValues")
        values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for value, field_id in zip(values, field_ids, strict=True):
            value.fieldId = field_id
            if field_id != pynvml.NVML_FI_DEV_POWER_INSTANT or board.power_field_mw is None:
                value.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
                continue
            value.nvmlReturn = self.field_return.get(board.uuid, pynvml.NVML_SUCCESS)
            value.valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
            value.value.uiVal = board.power_field_mw
        return values

    def nvmlDeviceGetPowerUsage(self, handle):
        board = self._board(handle, "nvmlDeviceGetPowerUsage")
        if board.power_usage_mw is None:
            raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return board.power_usage_mw

    def nvmlDeviceGetUtilizationRates(self, handle):
        board = self._board(handle, "nvmlDeviceGetUtilizationRates")  # NOT_SUPPORTED on MIG devices
        return SimpleNamespace(gpu=board.utilisation, memory=0)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return self._board(handle, "nvmlDeviceGetEnforcedPowerLimit").limit_mw
