"""Real GPUs through NVML: the only module that imports pynvml (the nvidia-ml-py package).

A MIG device has no energy counter or power reading of its own: NVML reports those for the board. A MIG
device's reading therefore carries its board's energy, power and power limit (the meter takes its share)
and its own memory; its utilisation is None (NVML does not report it for MIG devices).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pynvml

from workers.metering.device import DeviceError, DeviceLost, GpuDevices, GpuInfo, GpuReading

# Instantaneous power (mW) where the driver offers it; nvmlDeviceGetPowerUsage is a ~1 s average on A100/H100.
POWER_INSTANT_FIELD = getattr(pynvml, "NVML_FI_DEV_POWER_INSTANT", None)


@dataclass
class _Device:
    info: GpuInfo
    handle: Any  # what utilisation and memory are read from
    board: Any  # what energy, power and the power limit are read from (the parent board of a MIG device)


def _mapped(error: pynvml.NVMLError) -> DeviceError | DeviceLost:
    if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
        return DeviceLost(f"NVML: {error}")
    return DeviceError(f"NVML: {error}")


def _or_none_if_not_supported(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except pynvml.NVMLError as error:
        if error.value == pynvml.NVML_ERROR_NOT_SUPPORTED:
            return None
        raise


def _field_number(field: Any) -> float | int:
    value_type = field.valueType
    if value_type == pynvml.NVML_VALUE_TYPE_DOUBLE:
        return field.value.dVal
    if value_type == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG:
        return field.value.ulVal
    if value_type == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
        return field.value.ullVal
    if value_type == pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return field.value.sllVal
    if value_type == pynvml.NVML_VALUE_TYPE_SIGNED_INT:
        return field.value.siVal
    return field.value.uiVal


class NvmlDevices(GpuDevices):
    """This machine's NVIDIA GPUs and MIG devices, keyed by NVML UUID. NVML initialises on first use."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._initialised = False
        self._devices: dict[str, _Device] = {}
        # Boards whose driver answered NOT_SUPPORTED for the instantaneous power field: asked no more.
        self._no_power_field: set[str] = set()

    def gpus(self) -> list[GpuInfo]:
        self._ensure_initialised()
        return [device.info for device in self._devices.values()]

    def read(self, uuid: str) -> GpuReading:
        self._ensure_initialised()
        device = self._devices.get(uuid)
        if device is None:
            raise DeviceError(f"no GPU {uuid} on this machine")
        try:
            energy_mj = _or_none_if_not_supported(
                lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(device.board)
            )
            power_mw = self._power_mw(device)
            utilisation = _or_none_if_not_supported(
                lambda: pynvml.nvmlDeviceGetUtilizationRates(device.handle)
            )
            memory = _or_none_if_not_supported(lambda: pynvml.nvmlDeviceGetMemoryInfo(device.handle))
            limit_mw = _or_none_if_not_supported(lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(device.board))
        except pynvml.NVMLError as error:
            raise _mapped(error) from error
        return GpuReading(
            uuid=uuid,
            at=self._clock(),
            energy_mj=energy_mj,
            power_mw=power_mw,
            utilisation_pct=float(utilisation.gpu) if utilisation is not None else None,
            memory_used_bytes=memory.used if memory is not None else None,
            power_limit_mw=limit_mw,
        )

    def _power_mw(self, device: _Device) -> int | None:
        board_uuid = device.info.board_uuid or device.info.uuid
        if POWER_INSTANT_FIELD is not None and board_uuid not in self._no_power_field:
            field = pynvml.nvmlDeviceGetFieldValues(device.board, [POWER_INSTANT_FIELD])[0]
            if field.nvmlReturn == pynvml.NVML_SUCCESS:
                return int(_field_number(field))
            if field.nvmlReturn != pynvml.NVML_ERROR_NOT_SUPPORTED:
                raise pynvml.NVMLError(field.nvmlReturn)
            self._no_power_field.add(board_uuid)
        return _or_none_if_not_supported(lambda: pynvml.nvmlDeviceGetPowerUsage(device.board))

    def reinitialise(self) -> None:
        """Shut NVML down and start it again, with fresh handles (after a lost GPU or a driver reload)."""
        if self._initialised:
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError:
                pass  # already gone with the driver: initialising again is what matters
        self._initialised = False
        self._devices = {}
        self._no_power_field = set()
        self._ensure_initialised()

    def shutdown(self) -> None:
        if self._initialised:
            self._initialised = False
            self._devices = {}
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError as error:
                raise _mapped(error) from error

    def _ensure_initialised(self) -> None:
        if self._initialised:
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise _mapped(error) from error
        self._initialised = True
        try:
            self._devices = self._discover()
        except pynvml.NVMLError as error:
            raise _mapped(error) from error

    def _discover(self) -> dict[str, _Device]:
        devices: dict[str, _Device] = {}
        for index in range(pynvml.nvmlDeviceGetCount()):
            board = pynvml.nvmlDeviceGetHandleByIndex(index)
            uuid = pynvml.nvmlDeviceGetUUID(board)
            name = pynvml.nvmlDeviceGetName(board)
            if not _mig_enabled(board):
                devices[uuid] = _Device(GpuInfo(uuid=uuid, index=index, name=name), handle=board, board=board)
                continue
            board_slices = _board_slice_count(board)
            for mig_index in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(board)):
                try:
                    handle = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(board, mig_index)
                except pynvml.NVMLError as error:
                    if error.value == pynvml.NVML_ERROR_NOT_FOUND:
                        continue  # no MIG device in this slot
                    raise
                mig_uuid = pynvml.nvmlDeviceGetUUID(handle)
                info = GpuInfo(
                    uuid=mig_uuid,
                    index=index,
                    name=pynvml.nvmlDeviceGetName(handle),
                    mig_fraction=_mig_fraction(handle, board, board_slices),
                    board_uuid=uuid,
                )
                devices[mig_uuid] = _Device(info, handle=handle, board=board)
        return devices


def _mig_enabled(board: Any) -> bool:
    try:
        current_mode, _pending = pynvml.nvmlDeviceGetMigMode(board)
    except pynvml.NVMLError as error:
        if error.value == pynvml.NVML_ERROR_NOT_SUPPORTED:
            return False  # a GPU without MIG
        raise
    return current_mode == pynvml.NVML_DEVICE_MIG_ENABLE


def _board_slice_count(board: Any) -> int | None:
    """The most GPU-instance slices any profile of this board takes (7 on A100 and H100)."""
    most = 0
    for profile in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
        try:
            most = max(most, pynvml.nvmlDeviceGetGpuInstanceProfileInfo(board, profile).sliceCount)
        except pynvml.NVMLError:
            continue  # a profile this board does not have
    return most or None


def _mig_fraction(handle: Any, board: Any, board_slices: int | None) -> float:
    """Slices of this MIG device / the board's slices; where NVML cannot say, its share of the memory."""
    if board_slices:
        try:
            slices = pynvml.nvmlDeviceGetAttributes(handle).gpuInstanceSliceCount
        except pynvml.NVMLError:
            slices = 0
        if slices:
            return min(1.0, slices / board_slices)
    own = pynvml.nvmlDeviceGetMemoryInfo(handle).total
    whole = pynvml.nvmlDeviceGetMemoryInfo(board).total
    return min(1.0, own / whole) if own and whole else 1.0
