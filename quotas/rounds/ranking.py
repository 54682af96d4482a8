"""The panel's ranking: every reviewer's scores normalised against that reviewer's own scoring, so a strict
reviewer does not sink the applications they happened to get, then weighted by the call's criteria.

Normalising: for each reviewer and criterion, a score becomes its distance from that reviewer's mean in
that reviewer's standard deviations (a z-score), then is put back on the panel's scale (the panel's mean
and deviation of that criterion), so the figures stay readable as scores. A reviewer who gave every
application the same score (or scored only one) says nothing about order: their scores become the panel
mean. An application's score is the mean over its reviewers of the criteria's weighted sum (weights
made to sum to 1); a regional bonus (points on that scale) is added where the call gives one.
"""

from collections import defaultdict
from dataclasses import dataclass
from statistics import fmean, pstdev


@dataclass(frozen=True)
class Score:
    reviewer: str
    application: str
    criteria: dict[str, float]  # criterion → the score given (e.g. 1–10)


@dataclass(frozen=True)
class Ranked:
    application: str
    score: float  # normalised, weighted, with any bonus
    raw: float  # the same weights on the scores as given (shown beside it)
    reviewers: int
    bonus: float
    position: int  # 1 = best


def normalised(scores: list[Score]) -> dict[tuple[str, str], dict[str, float]]:
    """(reviewer, application) → criterion → the score on the panel's scale."""
    by_criterion: dict[str, list[float]] = defaultdict(list)
    mine: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in scores:
        for criterion, value in s.criteria.items():
            by_criterion[criterion].append(value)
            mine[(s.reviewer, criterion)].append(value)
    panel = {c: (fmean(v), pstdev(v)) for c, v in by_criterion.items()}
    # each reviewer's mean and deviation per criterion, once (not once per score: 500 applications and
    # three reviews each made that the slowest part of a round)
    own = {key: (fmean(values), pstdev(values)) for key, values in mine.items()}
    out: dict[tuple[str, str], dict[str, float]] = {}
    for s in scores:
        row = {}
        for criterion, value in s.criteria.items():
            own_mean, spread = own[(s.reviewer, criterion)]
            mean, panel_sd = panel[criterion]
            row[criterion] = mean if spread == 0 else mean + (value - own_mean) / spread * panel_sd
        out[(s.reviewer, s.application)] = row
    return out


def rank(
    scores: list[Score], weights: dict[str, float], bonus: dict[str, float] | None = None
) -> list[Ranked]:
    """Every scored application, best first. Ties: the higher raw score, then the application's id (so the
    order never depends on the input's)."""
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("the criteria's weights must add up to more than 0")
    share = {c: w / total for c, w in weights.items()}
    norm = normalised(scores)
    weighted: dict[str, list[float]] = defaultdict(list)
    raw: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        weighted[s.application].append(
            sum(share.get(c, 0.0) * v for c, v in norm[(s.reviewer, s.application)].items())
        )
        raw[s.application].append(sum(share.get(c, 0.0) * v for c, v in s.criteria.items()))
    bonus = bonus or {}
    rows = [
        (fmean(weighted[a]) + bonus.get(a, 0.0), fmean(raw[a]), len(weighted[a]), bonus.get(a, 0.0), a)
        for a in weighted
    ]
    rows.sort(key=lambda r: (-round(r[0], 9), -round(r[1], 9), r[4]))
    return [
        Ranked(application=a, score=round(s, 4), raw=round(r, 4), reviewers=n, bonus=b, position=i + 1)
        for i, (s, r, n, b, a) in enumerate(rows)
    ]
