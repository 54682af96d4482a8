"""The node agent's metering step: read the GPUs into their meters, and turn each closed interval into
usage records for the jobs bound to the GPUs, spooled together with the state that produced them.

GPU-seconds come from the bindings' edges (``bound_gpu_seconds``, to the second; successive records of
one binding add up to its rounded total exactly), energy from the meters. Every GPU of the machine is
read, bound or not, so that a GPU's first interval in a new job starts from a fresh counter read rather
than from wherever the previous job left it; the energy of unbound GPUs is simply not reported.

A binding's records continue from its spooled state: the next one starts where the last one ended
(``last_interval_end``), so time the agent was down is reported after the restart, and its sequence
continues within the GPU's epoch. Reporting state and records are written in one spool transaction,
so a crash between two reports loses nothing and repeats nothing.
"""

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from workers.assignments import Binding
from workers.metering.device import DeviceError, DeviceLost, GpuDevices, GpuInfo
from workers.metering.meter import GpuMeter, IntervalUsage, bound_gpu_seconds
from workers.records import UsageRecord
from workers.spool import BindingState, GpuState, Spool

log = logging.getLogger(__name__)

# The portal refuses records longer than a day; after a long agent outage a binding's gap is reported in
# pieces of at most this length.
MAX_RECORD_SECONDS = 3600.0


class Reporter:
    def __init__(
        self,
        *,
        devices: GpuDevices,
        source,  # LocalAssignments | PodResourcesAssignments | anything with bindings(now) -> list[Binding]
        spool: Spool,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        max_record_seconds: float = MAX_RECORD_SECONDS,
    ):
        """``clock`` gives the records' wall time; ``monotonic`` the devices' reading clock (GpuReading.at)."""
        self.devices = devices
        self.source = source
        self.spool = spool
        self.clock = clock
        self.monotonic = monotonic
        self.max_record_seconds = max_record_seconds
        self.gpus: dict[str, GpuInfo] = {}
        self.meters: dict[str, GpuMeter] = {}
        self.interval_started: dict[str, float] = {}  # uuid → wall time its meter's open interval began
        self.binding_states: dict[tuple[str, str], BindingState] = spool.binding_states()
        self._gpu_states: dict[str, GpuState] = spool.gpu_states()
        self.refresh_gpus()

    # --- sampling ---------------------------------------------------------------------------------

    def refresh_gpus(self) -> None:
        """Learn the machine's GPUs (again): new ones get a meter, restored from the spool if it knows them."""
        try:
            infos = self.devices.gpus()
        except (DeviceError, DeviceLost) as error:
            log.warning("cannot list GPUs (%s); keeping the ones known", error)
            return
        for info in infos:
            self.gpus[info.uuid] = info
            if info.uuid in self.meters:
                continue
            state = self._gpu_states.get(info.uuid)
            self.meters[info.uuid] = GpuMeter(
                info.uuid,
                mig_fraction=info.mig_fraction,
                simulated=info.simulated,
                epoch=state.epoch if state else self.spool.first_epoch(),
                last_energy_mj=state.last_energy_mj if state else None,
            )
            if state and state.last_closed_at is not None:
                self.interval_started[info.uuid] = state.last_closed_at

    def sample(self) -> int:
        """Read every GPU once into its meter; how many reads succeeded."""
        now = self.clock()
        succeeded = 0
        reinitialised = False
        for uuid, meter in list(self.meters.items()):
            try:
                reading = self.devices.read(uuid)
            except (DeviceLost, DeviceError) as error:
                log.warning("reading GPU %s failed (%s)", uuid, error)
                if not reinitialised:
                    reinitialised = True
                    self._reinitialise()
                continue
            meter.sample(reading)
            self.interval_started.setdefault(uuid, now)
            succeeded += 1
        return succeeded

    def _reinitialise(self) -> None:
        try:
            self.devices.reinitialise()
        except Exception as error:  # noqa: BLE001 - the next sample tries again
            log.warning("re-initialising the GPUs failed (%s)", error)
            return
        self.refresh_gpus()

    # --- reporting --------------------------------------------------------------------------------

    def report(self, now: float | None = None, at: float | None = None) -> list[UsageRecord]:
        """Close every GPU's interval at ``now`` (wall) / ``at`` (reading clock); spool the bound ones' records."""
        now = self.clock() if now is None else now
        at = self.monotonic() if at is None else at
        bindings = self.source.bindings(now)
        usages: dict[str, IntervalUsage] = {}
        windows: dict[str, tuple[float, float]] = {}
        reset: set[str] = set()  # GPUs whose counter restarted this interval: part of it went unmeasured
        for uuid, meter in self.meters.items():
            usages[uuid] = meter.close_interval(at)
            windows[uuid] = (self.interval_started.get(uuid, now), now)
            previous = self._gpu_states.get(uuid)
            if previous is not None and previous.epoch != usages[uuid].epoch:
                reset.add(uuid)

        records: list[UsageRecord] = []
        updates: list[BindingState | GpuState] = []
        new_states: dict[tuple[str, str], BindingState] = {}
        by_gpu: dict[str, list[Binding]] = defaultdict(list)
        for binding in bindings:
            by_gpu[binding.gpu_uuid].append(binding)
        for uuid, gpu_bindings in by_gpu.items():
            for binding in sorted(gpu_bindings, key=lambda b: (b.bound_at, b.job_id)):
                key = (binding.job_id, binding.gpu_uuid)
                state = new_states.get(key) or self.binding_states.get(key)
                usage = usages.get(uuid)
                if usage is not None and uuid in reset:
                    usage = replace(usage, estimated=True)
                made, new_state = self._binding_records(binding, state, usage, windows.get(uuid), now)
                records.extend(made)
                if new_state is not None and new_state != state:
                    new_states[key] = new_state
        updates.extend(new_states.values())
        gpu_states = {
            uuid: GpuState(uuid, meter.epoch, meter.last_energy_mj, now)
            for uuid, meter in self.meters.items()
        }
        updates.extend(gpu_states.values())
        self.spool.append(records, updates)
        self.binding_states.update(new_states)
        self._gpu_states.update(gpu_states)
        for uuid in self.meters:
            self.interval_started[uuid] = now
        return records

    def _binding_records(
        self,
        binding: Binding,
        state: BindingState | None,
        usage: IntervalUsage | None,
        window: tuple[float, float] | None,
        now: float,
    ) -> tuple[list[UsageRecord], BindingState | None]:
        same_binding = state is not None and math.isclose(state.bound_at, binding.bound_at, abs_tol=1e-6)
        if same_binding and state.released:
            return [], state
        if (
            not same_binding
            and binding.released_at is not None
            and binding.released_at < self.spool.created_at
        ):
            return [], state  # ended before this spool existed: not this agent's to report
        start = max(binding.bound_at, state.last_interval_end) if same_binding else binding.bound_at
        end = now if binding.released_at is None else min(now, binding.released_at)
        released = binding.released_at is not None and end >= binding.released_at
        epoch = usage.epoch if usage is not None else (state.epoch if state else self.spool.first_epoch())
        sequence = state.next_sequence if state is not None and state.epoch == epoch else 0
        if end <= start:
            if released:
                return [], BindingState(
                    binding.job_id, binding.gpu_uuid, binding.bound_at, epoch, sequence, max(start, end), True
                )
            return [], state
        gpu = self.gpus.get(binding.gpu_uuid)
        fraction = binding.mig_fraction if binding.mig_fraction != 1.0 else (gpu.mig_fraction if gpu else 1.0)
        energy_mj, estimated, quarantined = _energy_share(usage, window, start, end)
        pieces = _pieces(start, end, self.max_record_seconds)
        energies = _split(energy_mj, [piece_end - piece_start for piece_start, piece_end in pieces])
        records = []
        for (piece_start, piece_end), piece_energy in zip(pieces, energies, strict=True):
            records.append(
                UsageRecord(
                    job_id=binding.job_id,
                    gpu_uuid=binding.gpu_uuid,
                    epoch=epoch,
                    sequence=sequence,
                    interval_start=piece_start,
                    interval_end=piece_end,
                    gpu_seconds=bound_gpu_seconds(
                        piece_start, piece_end, binding.bound_at, binding.released_at, fraction
                    ),
                    energy_mj=piece_energy,
                    avg_utilisation_pct=min(100.0, max(0.0, usage.avg_utilisation_pct)) if usage else 0.0,
                    avg_memory_bytes=max(0, usage.avg_memory_bytes) if usage else 0,
                    estimated=estimated,
                    simulated=bool(gpu and gpu.simulated),
                    quarantined=quarantined,
                )
            )
            sequence += 1
        return records, BindingState(
            binding.job_id, binding.gpu_uuid, binding.bound_at, epoch, sequence, end, released
        )

    def open_bindings(self) -> list[BindingState]:
        return [state for state in self.binding_states.values() if not state.released]


def _energy_share(
    usage: IntervalUsage | None, window: tuple[float, float] | None, start: float, end: float
) -> tuple[int, bool, bool]:
    """(energy, estimated, quarantined) of a GPU's interval that falls to the record [start, end].

    The meter measured ``window``; the record gets the measured energy in proportion to the part of the
    window it covers. Any part of the record the meter did not see (before the agent first read the GPU)
    is estimated from the interval's average power. A bound GPU never reports 0: with nothing to estimate
    from, 0 is sent flagged quarantined (not to be trusted), as the meter itself does.
    """
    if usage is None:
        return 0, True, True
    window_start, window_end = window
    length = window_end - window_start
    covered = max(0.0, min(end, window_end) - max(start, window_start))
    energy = usage.energy_mj * covered / length if length > 0 else 0.0
    estimated = usage.estimated
    uncovered = (end - start) - covered
    if uncovered > 1.0 or (energy <= 0 and end > start):
        energy += usage.avg_power_w * 1000 * (end - start if energy <= 0 else uncovered)
        estimated = True
    energy_mj = round(energy)
    if energy_mj <= 0 and usage.energy_mj > 0:
        energy_mj = 1
    return energy_mj, estimated, usage.quarantined or energy_mj <= 0


def _pieces(start: float, end: float, longest: float) -> list[tuple[float, float]]:
    count = max(1, math.ceil((end - start) / longest))
    bounds = [start + (end - start) * index / count for index in range(count)] + [end]
    return list(zip(bounds, bounds[1:], strict=False))


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` in whole parts proportional to ``weights`` that add up to it; none 0 while total > 0."""
    if len(weights) == 1:
        return [total]
    whole = sum(weights)
    parts, done, running = [], 0, 0.0
    for weight in weights:
        running += weight
        upto = round(total * running / whole) if whole > 0 else 0
        parts.append(upto - done)
        done = upto
    parts[-1] += total - done
    if total > 0:
        parts = [max(1, part) for part in parts]
    return parts
