"""Reading a call's statistics (docs/programme.md, "Statistics"): its applications' facts in four queries
whatever their number, summed by the pure core (quotas/rounds/statistics.py), with the groups' names
for the pages and the API."""

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from portal.applications.models import Application, ApplicationKind
from portal.applications.states import State
from portal.calls.models import Call
from portal.organisations.models import OrganisationType
from portal.providers.models import Region
from quotas.models import SECONDS_PER_HOUR, Allocation, AllocationStatus, LineOutcome, RoundLine
from quotas.rounds.statistics import (
    DIMENSIONS,
    NO_TRACK,
    ApplicationFacts,
    CallStatistics,
    Group,
    call_statistics,
)

# Applications that were never sent, or were taken back, are not applications to the call.
NOT_COUNTED = (State.DRAFT, State.WITHDRAWN)
AWARDED_OUTCOMES = (LineOutcome.AWARDED, LineOutcome.OFFERED)


def call_application_facts(call: Call) -> list[ApplicationFacts]:
    """One fact row per new-project application to ``call`` (change requests are not applications).

    Selected: an application whose allocation has not lapsed, or, while it has no allocation yet, whose
    round line was awarded or offered. An allocation's figures are its budgets' (awarded and used); a
    selection without an allocation counts its line's GPU-hours as awarded.
    """
    applications = (
        Application.objects.filter(call=call, kind=ApplicationKind.NEW)
        .exclude(state__in=NOT_COUNTED)
        .annotate(asked=Sum("gpu_requests__gpu_hours"))
        .values_list(
            "pk",
            "organisation__org_type",
            "organisation__region",
            "track__code",
            "max_concurrent_gpus",
            "asked",
        )
    )
    allocations = {
        application_id: (status, awarded or 0, used or 0)
        for application_id, status, awarded, used in Allocation.objects.filter(call=call)
        .annotate(awarded=Sum("budgets__awarded_gpu_hours"), used=Sum("budgets__used_gpu_seconds"))
        .values_list("application_id", "status", "awarded", "used")
    }
    awarded_lines = dict(
        RoundLine.objects.filter(round__call=call, outcome__in=AWARDED_OUTCOMES).values_list(
            "application_id", "gpu_hours"
        )
    )
    facts = []
    for pk, org_type, region, track, gpus, asked in applications:
        common = {
            "org_type": org_type,
            "region": region,
            "track": track or NO_TRACK,
            "asked_gpu_hours": asked or 0,
            "gpus": gpus,
        }
        if pk in allocations:
            status, awarded, used_seconds = allocations[pk]
            selected = status != AllocationStatus.LAPSED
            facts.append(
                ApplicationFacts(
                    **common,
                    selected=selected,
                    awarded_gpu_hours=awarded if selected else 0,
                    allocated_gpu_hours=awarded if selected else 0,
                    used_gpu_hours=used_seconds / SECONDS_PER_HOUR if selected else 0.0,
                )
            )
        elif pk in awarded_lines:
            facts.append(ApplicationFacts(**common, selected=True, awarded_gpu_hours=awarded_lines[pk]))
        else:
            facts.append(ApplicationFacts(**common, selected=False))
    return facts


def call_statistics_of(call: Call) -> tuple[CallStatistics, dict[str, str]]:
    """The call's full statistics, and its tracks' names by code (for labels)."""
    track_names = dict(call.tracks.order_by("min_gpus", "code").values_list("code", "name"))
    return call_statistics(call_application_facts(call), tracks=list(track_names)), track_names


SECTOR_LABELS = {
    "academia": _("Academia (universities)"),
    "industry": _("Industry (SMEs and startups)"),
    "public_research": _("Public research (research institutes and public institutions)"),
}
DIMENSION_LABELS = {
    "sector": _("By sector"),
    "region": _("By region"),
    "org_type": _("By organisation type"),
    "track": _("By track"),
}


def group_label(group: Group, track_names: dict[str, str]) -> str:
    """A group's name in the reader's language."""
    if group.dimension == "total":
        return str(_("All applications"))
    if group.dimension == "sector":
        return str(SECTOR_LABELS[group.key])
    if group.dimension == "region":
        return str(Region(group.key).label)
    if group.dimension == "org_type":
        return str(OrganisationType(group.key).label)
    return track_names.get(group.key) or str(_("No track"))


def statistics_table(statistics: CallStatistics, track_names: dict[str, str]) -> dict:
    """The statistics as the pages and the API show them: the total and each breakdown, every group
    with its code, its label and its figures (None where withheld, with why)."""

    def row(group: Group) -> dict:
        return {
            "group": group.key,
            "label": group_label(group, track_names),
            "withheld": group.withheld,
            "figures": group.figures,
        }

    return {
        "total": row(statistics.total),
        **{f"by_{dimension}": [row(g) for g in statistics.breakdowns[dimension]] for dimension in DIMENSIONS},
    }
