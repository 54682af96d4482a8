"""A call's statistics from plain facts about its applications (docs/programme.md, "Statistics").

Pure: the figures per group (sector, region, organisation type, track) and the suppression of small
groups for the public. quotas/statistics.py reads the facts from the database.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

# The one definition of a sector: organisation type → sector.
SECTOR_OF_ORG_TYPE: Mapping[str, str] = {
    "university": "academia",
    "sme": "industry",
    "startup": "industry",
    "research_institute": "public_research",
    "public_institution": "public_research",
}
SECTORS: tuple[str, ...] = ("academia", "industry", "public_research")
ORG_TYPES: tuple[str, ...] = tuple(SECTOR_OF_ORG_TYPE)
REGIONS: tuple[str, ...] = ("capital", "non_capital")
# An organisation that stated no region counts as the capital area (as the round's regional share does).
UNSTATED_REGION = "capital"
NO_TRACK = ""

# A group of fewer applications than this is withheld from the public.
MIN_PUBLIC_GROUP = 3
FEWER_THAN_MINIMUM = "fewer_than_3"
# Withheld although large enough, so that a withheld small group cannot be worked out by subtraction.
PROTECTS_ANOTHER = "protects_another"

DIMENSIONS: tuple[str, ...] = ("sector", "region", "org_type", "track")


@dataclass(frozen=True)
class ApplicationFacts:
    """What the statistics need of one application; ``selected`` decides the award's figures count."""

    org_type: str
    region: str
    track: str
    asked_gpu_hours: int
    gpus: int
    selected: bool
    awarded_gpu_hours: int = 0
    # Of its allocation's budgets only (an award without an allocation yet has none): utilisation's base.
    allocated_gpu_hours: int = 0
    used_gpu_hours: float = 0.0

    def group(self, dimension: str) -> str:
        if dimension == "sector":
            return SECTOR_OF_ORG_TYPE[self.org_type]
        if dimension == "region":
            return self.region or UNSTATED_REGION
        return self.org_type if dimension == "org_type" else self.track


@dataclass(frozen=True)
class Figures:
    applications: int = 0
    asked_gpu_hours: int = 0
    selected: int = 0
    awarded_gpus: int = 0
    awarded_gpu_hours: int = 0
    allocated_gpu_hours: int = 0
    used_gpu_hours: float = 0.0

    @property
    def selection_ratio(self) -> float | None:
        return self.selected / self.applications if self.applications else None

    @property
    def utilisation(self) -> float | None:
        return self.used_gpu_hours / self.allocated_gpu_hours if self.allocated_gpu_hours else None


def figures_of(applications: Iterable[ApplicationFacts]) -> Figures:
    totals = dict.fromkeys((f.name for f in fields(Figures)), 0)
    for application in applications:
        totals["applications"] += 1
        totals["asked_gpu_hours"] += application.asked_gpu_hours
        if application.selected:
            totals["selected"] += 1
            totals["awarded_gpus"] += application.gpus
            totals["awarded_gpu_hours"] += application.awarded_gpu_hours
            totals["allocated_gpu_hours"] += application.allocated_gpu_hours
            totals["used_gpu_hours"] += application.used_gpu_hours
    return Figures(**totals)


@dataclass(frozen=True)
class Group:
    dimension: str
    key: str
    figures: Figures | None  # None: withheld (public statistics only)
    withheld: str = ""


@dataclass(frozen=True)
class CallStatistics:
    total: Group
    breakdowns: Mapping[str, tuple[Group, ...]]  # dimension → its groups, in a fixed order

    def groups(self) -> list[Group]:
        return [self.total, *(group for groups in self.breakdowns.values() for group in groups)]


def call_statistics(applications: Sequence[ApplicationFacts], *, tracks: Sequence[str]) -> CallStatistics:
    """Every figure for the call and for each group of each dimension; every group named, even empty.

    ``tracks``: the call's track codes in order; applications without one form the group ``NO_TRACK``.
    """
    keys = {
        "sector": SECTORS,
        "region": REGIONS,
        "org_type": ORG_TYPES,
        "track": (*tracks, NO_TRACK) if any(a.track == NO_TRACK for a in applications) else tuple(tracks),
    }
    members: dict[tuple[str, str], list[ApplicationFacts]] = {
        (dimension, key): [] for dimension, group_keys in keys.items() for key in group_keys
    }
    for application in applications:
        for dimension in DIMENSIONS:
            members.setdefault((dimension, application.group(dimension)), []).append(application)
    return CallStatistics(
        total=Group("total", "", figures_of(applications)),
        breakdowns={
            dimension: tuple(
                Group(dimension, key, figures_of(members[(dimension, key)]))
                for dimension_, key in members
                if dimension_ == dimension
            )
            for dimension in DIMENSIONS
        },
    )


def _equations(statistics: CallStatistics) -> list[tuple[tuple[str, str], list[tuple[str, str]]]]:
    """Which groups add up to which: the call's total is the sum of each breakdown, and a sector the sum
    of its organisation types."""
    total = ("total", "")
    equations = [
        (total, [(group.dimension, group.key) for group in groups])
        for groups in statistics.breakdowns.values()
    ]
    for sector in SECTORS:
        types = [("org_type", t) for t, s in SECTOR_OF_ORG_TYPE.items() if s == sector]
        equations.append((("sector", sector), types))
    return equations


def public_statistics(statistics: CallStatistics) -> CallStatistics:
    """The same groups with the small ones withheld, so that no single applicant can be picked out.

    1. A group of 1 or 2 applications is withheld (``fewer_than_3``); an empty group is shown (it
       names no one). A call with 1 or 2 applications withholds everything.
    2. Wherever groups add up to another shown figure (a breakdown to the call's total, organisation
       types to their sector) and exactly one of them is withheld, the smallest other non-empty group
       is withheld too (``protects_another``), until no withheld group can be had by subtraction.
    """
    figures = {(group.dimension, group.key): group.figures for group in statistics.groups()}
    total = statistics.total.figures
    withheld: dict[tuple[str, str], str] = {}
    if 0 < total.applications < MIN_PUBLIC_GROUP:
        withheld = dict.fromkeys(figures, FEWER_THAN_MINIMUM)
    else:
        withheld = {
            cell: FEWER_THAN_MINIMUM
            for cell, cell_figures in figures.items()
            if 0 < cell_figures.applications < MIN_PUBLIC_GROUP
        }
    order = list(figures)
    changed = True
    while changed:
        changed = False
        for parent, children in _equations(statistics):
            cells = [parent, *children]
            if sum(cell in withheld for cell in cells) != 1:
                continue
            candidates = [c for c in children if c not in withheld and figures[c].applications > 0]
            if candidates:
                chosen = min(candidates, key=lambda c: (figures[c].applications, order.index(c)))
            else:
                chosen = parent
            withheld[chosen] = PROTECTS_ANOTHER
            changed = True

    def shown(group: Group) -> Group:
        cell = (group.dimension, group.key)
        if cell in withheld:
            return Group(group.dimension, group.key, None, withheld[cell])
        return group

    return CallStatistics(
        total=shown(statistics.total),
        breakdowns={
            dimension: tuple(shown(group) for group in groups)
            for dimension, groups in statistics.breakdowns.items()
        },
    )
