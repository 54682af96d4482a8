"""Runtime prediction from history: how long a job will really run, judged by its own kind's past.

Users' max_runtime is a safety bound, not an estimate: people ask for round numbers far above the
truth, or for the maximum (Tsafrir, Etsion and Feitelson, 2005). A job's own history says more: the
finished runs of the same submitter and allocation, looked up from the most specific match to the
least (same name and GPUs; same command and environment; same GPUs and the same max_runtime asked for;
same GPUs; the allocation's jobs of that size; any of the allocation's jobs). The limit a user asks for
is a bound, not an estimate, but the runs that asked for the same one are alike: a user asks 15 minutes
for a smoke test and 72 hours for a training run. The first level with at least ``min_runs`` runs gives the
prediction: its median and its 10th and 90th percentiles over the ``recent`` latest runs, each bounded
by the job's own max_runtime. Without such history there is no prediction (the planner then orders by
attained service, and estimated starts fall back to max_runtime scaled by the programme-wide ratio of
runtime to max_runtime, when there is one).

A prediction only orders jobs and estimates starts; it never shortens a reservation: backfill keeps
checking max_runtime (reservations.py), so a job that outlives its prediction delays nobody's promise.
"""

import math
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class JobTraits:
    """What a job says about itself that its history can be matched on."""

    allocation_id: str
    submitter: str
    name: str
    command: str  # the command line as one string
    environment: str  # the catalogue environment or image
    gpus: int


@dataclass(frozen=True, slots=True)
class FinishedRun:
    traits: JobTraits
    runtime_s: float  # how long its last run took
    max_runtime_s: float
    finished_at: float


@dataclass(frozen=True, slots=True)
class Prediction:
    runtime_s: float  # the median of the matched runs, at most max_runtime
    low_s: float  # 10th percentile
    high_s: float  # 90th percentile
    basis: str  # which history matched (BASES)
    runs: int  # how many runs it rests on

    def scaled(self, max_runtime_s: float) -> "Prediction":
        """Bounded by ``max_runtime_s``: a job is stopped there, whatever its history says."""
        return Prediction(
            min(self.runtime_s, max_runtime_s),
            min(self.low_s, max_runtime_s),
            min(self.high_s, max_runtime_s),
            self.basis,
            self.runs,
        )


# From the most specific history to the least; each is a function of the traits giving the lookup key.
BASES = (
    ("same_name", lambda t, limit: (t.allocation_id, t.submitter, name_stem(t.name), t.gpus)),
    ("same_command", lambda t, limit: (t.allocation_id, t.submitter, t.command, t.environment)),
    ("same_submitter_limit", lambda t, limit: (t.allocation_id, t.submitter, t.gpus, round(limit))),
    ("same_submitter_size", lambda t, limit: (t.allocation_id, t.submitter, t.gpus)),
    ("same_allocation_size", lambda t, limit: (t.allocation_id, t.gpus)),
    ("same_allocation", lambda t, limit: (t.allocation_id,)),
)
PROGRAMME_WIDE = "programme_ratio"  # a fraction of max_runtime, from every finished run


def name_stem(name: str) -> str:
    """A job name without its numbers, lower-cased: "train-run-12" and "Train-run-13" are one kind."""
    return DIGITS.sub("#", name.strip().lower())


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (the same rule as numpy's default)."""
    position = (len(sorted_values) - 1) * q
    lower, upper = math.floor(position), math.ceil(position)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def _summary(values: list[float], basis: str) -> Prediction:
    ordered = sorted(values)
    return Prediction(
        quantile(ordered, 0.5), quantile(ordered, 0.1), quantile(ordered, 0.9), basis, len(ordered)
    )


class RuntimeHistory:
    """Finished runs indexed for prediction; runs may be added as they finish (the replay does).

    Predicting is a few dict lookups; a group's percentiles are computed when first asked after a change.
    """

    def __init__(self, runs: Iterable[FinishedRun] = (), *, recent: int = 20, min_runs: int = 2):
        self.min_runs = min_runs
        self.recent = recent
        self._groups: dict[tuple, deque[float]] = {}
        self._ratios: deque[float] = deque(maxlen=50 * recent)
        self._summaries: dict[tuple, Prediction | None] = {}
        self._ratio: Prediction | None = None
        self._ratio_stale = False
        self.version = 0  # bumped by every add
        for run in sorted(runs, key=lambda run: (run.finished_at, run.traits.name)):
            self.add(run)

    def add(self, run: FinishedRun) -> None:
        """A run that finished after every run added before it."""
        for basis, key in BASES:
            group_key = (basis, key(run.traits, run.max_runtime_s))
            group = self._groups.get(group_key)
            if group is None:
                group = self._groups[group_key] = deque(maxlen=self.recent)
            group.append(max(0.0, run.runtime_s))
            self._summaries.pop(group_key, None)
        if run.max_runtime_s > 0:
            self._ratios.append(min(1.0, max(0.0, run.runtime_s / run.max_runtime_s)))
            self._ratio_stale = True
        self.version += 1

    def _summary(self, group_key: tuple) -> Prediction | None:
        if group_key not in self._summaries:
            values = self._groups.get(group_key)
            enough = values is not None and len(values) >= self.min_runs
            self._summaries[group_key] = _summary(list(values), group_key[0]) if enough else None
        return self._summaries[group_key]

    def predict(self, traits: JobTraits, max_runtime_s: float) -> Prediction | None:
        """The most specific history's prediction for a job like ``traits``, or None without one."""
        for basis, key in BASES:
            found = self._summary((basis, key(traits, max_runtime_s)))
            if found is not None:
                return found.scaled(max_runtime_s)
        return None

    def fallback(self, max_runtime_s: float) -> Prediction | None:
        """For estimates only: max_runtime scaled by the programme-wide ratio of runtime to it."""
        if self._ratio_stale:
            self._ratio = (
                _summary(list(self._ratios), PROGRAMME_WIDE) if len(self._ratios) >= self.min_runs else None
            )
            self._ratio_stale = False
        if self._ratio is None:
            return None
        r = self._ratio
        return Prediction(
            r.runtime_s * max_runtime_s, r.low_s * max_runtime_s, r.high_s * max_runtime_s, r.basis, r.runs
        )
