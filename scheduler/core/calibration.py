"""Widening estimated starts' ranges by how the recent ones turned out.

A plan sees the running jobs and the queue, not the jobs that will arrive: in a busy cluster shorter
and under-share jobs that come later go ahead, and predicted runtimes err both ways, so real starts
scatter around the plan's estimates. For each GPU type the recent jobs that have started tell by how
much: the ratio of the wait they really had to the wait the plan first announced them. Ratios are kept
per band of announced wait (a factor of BAND_FACTOR each, from one minute), since an estimate of minutes
and one of days err differently; each band keeps its newest ``window`` ratios. A new estimate's range is
widened (never narrowed) to cover the band's 10th and 90th percentile ratios; a band with fewer than
``min_samples`` ratios leaves the range as the plan gave it. A reserved start stays the latest any
estimate says (a promise: running jobs stop at their max_runtime).

The estimate itself stays the plan's. Until 2026-12-07 it was scaled by the band's median ratio too
(``move_estimate=True``, kept for bench.estimate_sweep's comparison); once the plan booked pods on nodes
and predicted by the limit asked for, that made the median error worse on every loaded Philly run
measured, and the widened range was what helped (docs/benchmarks.md §5, "Ranges widened, estimates
kept").

Samples must come from the plan's own estimates (before this correction), or the correction would feed
on itself.
"""

import math
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.core.estimate import StartEstimate
from scheduler.core.model import Plan, Snapshot
from scheduler.core.predict import quantile

BAND_FACTOR = 4.0
MIN_WAIT_S = 60.0  # announced waits below this count as this: a ratio to "now" means nothing


@dataclass(frozen=True, slots=True)
class WaitSample:
    gpu_type: str
    announced_wait_s: float  # the plan's first estimated start minus when it was given
    actual_wait_s: float  # the job's first start minus the same moment


def band(announced_wait_s: float) -> int:
    """0 for waits under BAND_FACTOR minutes, 1 up to BAND_FACTOR² minutes, and so on."""
    return int(math.log(max(MIN_WAIT_S, announced_wait_s) / MIN_WAIT_S, BAND_FACTOR))


class WaitCalibration:
    def __init__(
        self,
        samples: Iterable[WaitSample] = (),
        *,
        window: int = 100,
        min_samples: int = 20,
        move_estimate: bool = False,
    ):
        self.window = window
        self.min_samples = min_samples
        self.move_estimate = move_estimate
        self._ratios: dict[tuple[str, int], deque] = defaultdict(lambda: deque(maxlen=window))
        self._cache: dict[tuple[str, int], tuple[float, float, float] | None] = {}
        for sample in samples:
            self.add(sample)

    def add(self, sample: WaitSample) -> None:
        """Add a sample; samples are taken oldest first (the newest ``window`` of a band count)."""
        key = (sample.gpu_type, band(sample.announced_wait_s))
        wait = max(MIN_WAIT_S, sample.announced_wait_s)
        self._ratios[key].append(max(0.0, sample.actual_wait_s) / wait)
        self._cache.pop(key, None)

    def ratios(self, gpu_type: str, announced_wait_s: float) -> tuple[float, float, float] | None:
        """(10th percentile, median, 90th percentile) ratio of the band; None where it has too few."""
        key = (gpu_type, band(announced_wait_s))
        if key not in self._cache:
            values = self._ratios.get(key)
            if values is None or len(values) < self.min_samples:
                self._cache[key] = None
            else:
                ordered = sorted(values)
                self._cache[key] = tuple(quantile(ordered, q) for q in (0.1, 0.5, 0.9))
        return self._cache[key]

    def apply(
        self, gpu_type: str, now: float, estimate: StartEstimate, promised: float | None = None
    ) -> StartEstimate:
        found = self.ratios(gpu_type, estimate.at - now)
        if found is None:
            return estimate
        low_ratio, mid_ratio, high_ratio = found
        wait = max(MIN_WAIT_S, estimate.at - now)
        at = now + wait * mid_ratio if self.move_estimate else estimate.at
        low = min(estimate.low, now + wait * low_ratio)
        high = max(estimate.high, now + wait * high_ratio)
        if promised is not None:
            at, high = min(at, promised), min(high, promised)
        low = max(now, min(low, at))
        return StartEstimate(at=at, low=low, high=max(high, at))


def calibrate(
    estimates: dict[str, StartEstimate], snapshot: Snapshot, decision: Plan, calibration: WaitCalibration
) -> dict[str, StartEstimate]:
    """``estimate_ranges``' estimates with their ranges widened by ``calibration`` (queued job id →
    StartEstimate)."""
    gpu_types = {job.job_id: job.gpu_type for job in snapshot.queue}
    promised = {r.job_id: r.start_at for r in decision.reservations}
    return {
        job_id: calibration.apply(gpu_types[job_id], snapshot.now, estimate, promised.get(job_id))
        for job_id, estimate in estimates.items()
    }
