"""Correcting estimated starts by how the recent ones turned out.

A plan sees the running jobs and the queue, not the jobs that will arrive: in a busy cluster shorter
and under-share jobs that come later go ahead, so the plan's own estimates run early (and where its
predicted runtimes are generous, late). For each GPU type the recent jobs that have started tell by how
much: the ratio of the wait they really had to the wait the plan first announced them. Ratios are kept
per band of announced wait (a factor of BAND_FACTOR each, from one minute), since an estimate of minutes
and one of days err differently; each band keeps its newest ``window`` ratios. A new estimate's wait is
scaled by its band's median ratio and its range widened to cover the band's 10th and 90th percentile
ratios; a band with fewer than ``min_samples`` ratios leaves estimates as the plan gave them. A reserved
start stays the latest any estimate says (a promise: running jobs stop at their max_runtime).

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
    def __init__(self, samples: Iterable[WaitSample] = (), *, window: int = 100, min_samples: int = 20):
        self.window = window
        self.min_samples = min_samples
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
        at = now + wait * mid_ratio
        low = min(estimate.low, now + wait * low_ratio)
        high = max(estimate.high, now + wait * high_ratio)
        if promised is not None:
            at, high = min(at, promised), min(high, promised)
        low = max(now, min(low, at))
        return StartEstimate(at=at, low=low, high=max(high, at))


def calibrate(
    estimates: dict[str, StartEstimate], snapshot: Snapshot, decision: Plan, calibration: WaitCalibration
) -> dict[str, StartEstimate]:
    """``estimate_ranges``' estimates corrected by ``calibration`` (queued job id → StartEstimate)."""
    gpu_types = {job.job_id: job.gpu_type for job in snapshot.queue}
    promised = {r.job_id: r.start_at for r in decision.reservations}
    return {
        job_id: calibration.apply(gpu_types[job_id], snapshot.now, estimate, promised.get(job_id))
        for job_id, estimate in estimates.items()
    }
