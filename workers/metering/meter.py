"""The per-GPU arithmetic of metering: readings in, energy and averages per interval out. Pure: no I/O, no clock.

Energy is the sum of the NVML energy counter's deltas between consecutive reads, so a missed read loses
nothing: the next delta covers it. Where a reading has no counter (NOT_SUPPORTED) the meter integrates
instantaneous power over time instead (trapezoid) and marks the interval estimated. A counter that goes
down means the driver was reloaded: a new epoch starts and nothing is counted across the reset. Units:
mW × s = mJ.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from workers.metering.device import GpuReading


@dataclass(frozen=True)
class IntervalUsage:
    energy_mj: int  # this GPU's energy over the interval (a MIG slice's share of its board)
    estimated: bool  # integrated from power, estimated over a gap, or a MIG share of a board
    quarantined: (
        bool  # average power outside 0 .. enforced limit × margin, or no figure at all: kept, flagged
    )
    avg_utilisation_pct: float
    avg_memory_bytes: int
    avg_power_w: float  # over the spans measured in the interval (a MIG slice's share of its board)
    epoch: int  # the epoch at the end of the interval
    samples: int  # readings fed in the interval
    board_energy_mj: int | None = None  # MIG only: the whole board's energy, for apportion_board_energy


class GpuMeter:
    """One GPU's metering state across reads; feed every successful read, close one interval at a time.

    ``epoch`` and ``last_energy_mj`` are public so that the agent can persist them and restore a meter
    after a restart: the first counter read after a restore is then counted from ``last_energy_mj``.
    """

    def __init__(
        self,
        uuid: str,
        *,
        mig_fraction: float = 1.0,
        simulated: bool = False,
        power_margin: float = 1.10,
        epoch: int = 0,
        last_energy_mj: int | None = None,
    ) -> None:
        if not 0 < mig_fraction <= 1:
            raise ValueError(f"mig_fraction must be in (0, 1], not {mig_fraction}")
        if power_margin <= 0:
            raise ValueError(f"power_margin must be positive, not {power_margin}")
        self.uuid = uuid
        self.mig_fraction = mig_fraction
        self.simulated = simulated
        self.power_margin = power_margin
        self.epoch = epoch
        self.last_energy_mj = last_energy_mj
        self._previous: GpuReading | None = None
        self._last_power_mw: int | None = None
        self._last_limit_mw: int | None = None
        self._interval_started_at: float | None = None
        # Energy billed by a never-zero estimate over [from, to] that a later counter delta will also cover.
        self._credit_mj = 0.0
        self._credit_from = 0.0
        self._credit_to = 0.0
        self._reset_accumulators()

    def _reset_accumulators(self) -> None:
        self._energy_mj = 0.0  # what this interval bills (board level)
        self._timed_mj = 0.0  # physical energy over spans of known length, for the average power
        self._covered_s = 0.0
        self._estimated = False
        self._samples = 0
        self._utilisation_sum = 0.0
        self._utilisation_count = 0
        self._memory_sum = 0
        self._memory_count = 0
        self._max_limit_mw: int | None = None

    def sample(self, reading: GpuReading) -> None:
        """Feed one read of this GPU; reads must come in time order."""
        if reading.uuid != self.uuid:
            raise ValueError(f"reading of {reading.uuid} fed to the meter of {self.uuid}")
        previous = self._previous
        if previous is not None and reading.at < previous.at:
            raise ValueError(f"reading at {reading.at} is older than the previous one at {previous.at}")
        if self._interval_started_at is None:
            self._interval_started_at = reading.at
        self._samples += 1
        if reading.utilisation_pct is not None:
            self._utilisation_sum += reading.utilisation_pct
            self._utilisation_count += 1
        if reading.memory_used_bytes is not None:
            self._memory_sum += reading.memory_used_bytes
            self._memory_count += 1
        if reading.power_limit_mw is not None:
            self._last_limit_mw = reading.power_limit_mw
            self._max_limit_mw = max(self._max_limit_mw or 0, reading.power_limit_mw)

        if reading.energy_mj is not None:
            self._take_counter(reading, previous)
        else:
            self._estimated = True
            self._integrate_power(reading, previous)

        if reading.power_mw is not None:
            self._last_power_mw = reading.power_mw
        self._previous = reading

    def _take_counter(self, reading: GpuReading, previous: GpuReading | None) -> None:
        energy = reading.energy_mj
        base = self.last_energy_mj
        self.last_energy_mj = energy
        if base is None:
            return  # the first counter seen is the base
        if energy < base:
            # Driver reload: the counter restarted. What happened across the reset is unknowable.
            self.epoch += 1
            self._credit_mj = 0.0
            return
        if previous is None:
            # Restored from persisted state: the delta is real, but over a span of unknown length.
            self._energy_mj += energy - base
            return
        if previous.energy_mj is None:
            # The counter is back after reads without it: those were integrated up to the previous read,
            # so this span is integrated too and the new value only becomes the base.
            self._estimated = True
            self._integrate_power(reading, previous)
            return
        self._add_span(energy - base, previous.at, reading.at)

    def _integrate_power(self, reading: GpuReading, previous: GpuReading | None) -> None:
        if previous is None:
            return
        powers = [power for power in (previous.power_mw, reading.power_mw) if power is not None]
        if not powers:
            return  # an uncovered span: the never-zero estimate at close covers an interval left empty
        mean_power_mw = sum(powers) / len(powers)
        self._add_span(mean_power_mw * (reading.at - previous.at), previous.at, reading.at)

    def _add_span(self, energy_mj: float, start: float, end: float) -> None:
        self._timed_mj += energy_mj
        self._covered_s += end - start
        if self._credit_mj and end > self._credit_from:
            # Part of this span was billed earlier by a never-zero estimate: bill only the rest of it.
            overlap = max(0.0, min(end, self._credit_to) - max(start, self._credit_from))
            window = self._credit_to - self._credit_from
            already = min(energy_mj, self._credit_mj * overlap / window) if window > 0 else 0.0
            energy_mj -= already
            self._credit_mj = 0.0
            if overlap > 0:
                self._estimated = True
        self._energy_mj += energy_mj

    def close_interval(self, at: float | None = None) -> IntervalUsage:
        """Energy and averages since the last close; resets them, keeping the counter base and epoch.

        ``at`` is when the interval ends, on the readings' clock (default: the last reading). Pass it: a
        bound GPU that could not be read at all over the interval is then estimated from its last known
        power (or its power limit, as a last resort) × the interval's length, never reported as 0.
        """
        end = at if at is not None else (self._previous.at if self._previous is not None else None)
        start = self._interval_started_at
        duration = end - start if end is not None and start is not None else 0.0
        energy_mj = self._energy_mj
        timed_mj, covered_s = self._timed_mj, self._covered_s
        estimated = self._estimated or self.mig_fraction < 1
        quarantined = False

        if energy_mj <= 0 and timed_mj <= 0 and duration > 0:
            # Nothing measured (no counter delta, no power to integrate): estimate rather than report 0.
            power_mw = (
                self._last_power_mw
                if self._last_power_mw and self._last_power_mw > 0
                else self._last_limit_mw
            )
            if power_mw:
                energy_mj = power_mw * duration
                timed_mj, covered_s = energy_mj, duration
                if self._credit_mj:
                    self._credit_mj += energy_mj
                    self._credit_to = end
                else:
                    self._credit_mj, self._credit_from, self._credit_to = energy_mj, start, end
            else:
                quarantined = True  # nothing to estimate from: a 0 that must not be trusted
            estimated = True

        board_avg_power_w = timed_mj / covered_s / 1000 if covered_s > 0 else 0.0
        limit_mw = self._max_limit_mw or self._last_limit_mw
        if board_avg_power_w < 0 or (limit_mw and board_avg_power_w * 1000 > limit_mw * self.power_margin):
            quarantined = True
        board_energy_mj = max(0, round(energy_mj))

        usage = IntervalUsage(
            energy_mj=round(board_energy_mj * self.mig_fraction),
            estimated=estimated,
            quarantined=quarantined,
            avg_utilisation_pct=self._utilisation_sum / self._utilisation_count
            if self._utilisation_count
            else 0.0,
            avg_memory_bytes=self._memory_sum // self._memory_count if self._memory_count else 0,
            avg_power_w=board_avg_power_w * self.mig_fraction,
            epoch=self.epoch,
            samples=self._samples,
            board_energy_mj=board_energy_mj if self.mig_fraction < 1 else None,
        )
        self._reset_accumulators()
        self._interval_started_at = end
        return usage


def apportion_board_energy(board_energy_mj: int, activities: Mapping[str, float]) -> dict[str, int]:
    """Split a shared board's energy between its (MIG) devices by engine activity share.

    Whole millijoules that add up to ``board_energy_mj`` exactly (largest remainder, ties by UUID);
    negative activities count as 0, and with no activity at all the board is split evenly.
    """
    if board_energy_mj < 0:
        raise ValueError(f"board energy cannot be negative: {board_energy_mj}")
    if not activities:
        return {}
    weights = {uuid: max(0.0, activity) for uuid, activity in activities.items()}
    total = sum(weights.values())
    if total <= 0:
        weights = dict.fromkeys(weights, 1.0)
        total = float(len(weights))
    exact = {uuid: board_energy_mj * weight / total for uuid, weight in weights.items()}
    shares = {uuid: math.floor(value) for uuid, value in exact.items()}
    left = board_energy_mj - sum(shares.values())
    for uuid in sorted(exact, key=lambda uuid: (-(exact[uuid] - shares[uuid]), uuid))[:left]:
        shares[uuid] += 1
    return shares


def bound_gpu_seconds(
    interval_start: float,
    interval_end: float,
    bound_at: float,
    released_at: float | None,
    mig_fraction: float = 1.0,
) -> int:
    """Seconds a GPU was bound to a job within an interval, × its MIG fraction, in whole seconds.

    GPU-hours come from allocation edges ([bound_at, released_at), open while still bound), never from
    samples. Rounding is of the seconds since ``bound_at`` at both ends of the overlap, so consecutive
    intervals add up to the rounded total instead of accumulating rounding errors.
    """
    if not 0 < mig_fraction <= 1:
        raise ValueError(f"mig_fraction must be in (0, 1], not {mig_fraction}")
    overlap_start = max(interval_start, bound_at)
    overlap_end = min(interval_end, released_at if released_at is not None else math.inf)
    if overlap_end <= overlap_start:
        return 0

    def weighted_since_bound(moment: float) -> int:
        return math.floor((moment - bound_at) * mig_fraction + 0.5)

    return weighted_since_bound(overlap_end) - weighted_since_bound(overlap_start)
