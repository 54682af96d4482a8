"""Reads for rounds: what each track pool still has, organisations' active awards, a round's lines."""

from django.db.models import Count, Sum

from portal.calls.models import Call, TrackPool
from quotas.models import (
    Allocation,
    AllocationBudget,
    AllocationStage,
    AllocationStatus,
    RoundLine,
    StageState,
)

# An award counts against the concentration caps while it is in force or offered.
IN_FORCE = (AllocationStatus.ACTIVE, AllocationStatus.AWAITING_AGREEMENT, AllocationStatus.SUSPENDED)


def track_awarded(call: Call) -> dict[tuple[str, str], int]:
    """(track code, GPU type) → GPU-hours committed from that track pool: the budgets of the call's
    allocations that did not lapse, and their stages not yet released (nor returned)."""
    out: dict[tuple[str, str], int] = {}
    budgets = (
        AllocationBudget.objects.filter(allocation__call=call, allocation__application__track__isnull=False)
        .exclude(allocation__status=AllocationStatus.LAPSED)
        .values_list("allocation__application__track__code", "gpu_type")
        .annotate(hours=Sum("awarded_gpu_hours"))
    )
    stages = (
        AllocationStage.objects.filter(
            allocation__call=call,
            allocation__application__track__isnull=False,
            state__in=[StageState.PENDING, StageState.REPORTED],
        )
        .exclude(allocation__status=AllocationStatus.LAPSED)
        .values_list("allocation__application__track__code", "gpu_type")
        .annotate(hours=Sum("gpu_hours"))
    )
    for track, gpu_type, hours in [*budgets, *stages]:
        out[(track, gpu_type)] = out.get((track, gpu_type), 0) + (hours or 0)
    return out


def track_pools_left(call: Call) -> dict[tuple[str, str], int]:
    """(track code, GPU type) → GPU-hours the track pool can still award (never below 0)."""
    awarded = track_awarded(call)
    return {
        (code, gpu_type): max(0, hours - awarded.get((code, gpu_type), 0))
        for code, gpu_type, hours in TrackPool.objects.filter(track__call=call).values_list(
            "track__code", "gpu_type", "gpu_hours"
        )
    }


def org_active_awards(organisations) -> dict[int, tuple[int, int]]:
    """Organisation id → (GPU-hours, awards) across its awards in force, in every call."""
    ids = [o.pk for o in organisations]
    hours = dict(
        AllocationBudget.objects.filter(allocation__organisation_id__in=ids, allocation__status__in=IN_FORCE)
        .values_list("allocation__organisation_id")
        .annotate(total=Sum("awarded_gpu_hours"))
        .values_list("allocation__organisation_id", "total")
    )
    pending = dict(
        AllocationStage.objects.filter(
            allocation__organisation_id__in=ids,
            allocation__status__in=IN_FORCE,
            state__in=[StageState.PENDING, StageState.REPORTED],
        )
        .values_list("allocation__organisation_id")
        .annotate(total=Sum("gpu_hours"))
        .values_list("allocation__organisation_id", "total")
    )

    counts = dict(
        Allocation.objects.filter(organisation_id__in=ids, status__in=IN_FORCE)
        .values_list("organisation_id")
        .annotate(n=Count("id"))
        .values_list("organisation_id", "n")
    )
    return {o: (hours.get(o, 0) + pending.get(o, 0), counts.get(o, 0)) for o in set(hours) | set(counts)}


def round_lines(the_round) -> list[RoundLine]:
    return list(
        the_round.lines.select_related("application__organisation", "application__track").order_by(
            "position", "id"
        )
    )
