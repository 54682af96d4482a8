"""Setting up a call's round (staff): its tracks with their pools, and its levers (docs/programme.md).

Both may change until the round is approved; after that the round's inputs are fixed. The tracks of a
call share its pools: per GPU type, the tracks' GPU-hours add up to at most the call's pool.
"""

import re

from django.db import transaction
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.calls.models import Call, Track, TrackPool
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.organisations.models import OrganisationType
from quotas.models import AllocationRound, CallPool, RoundState
from quotas.rounds.proposal import Levers

MAX_GPUS = 4096
MAX_DAYS = 3660
MAX_STAGES = 6
MAX_BONUS = 5.0  # points on the reviews' 1–5 scale
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def _require_staff(staff) -> None:
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only programme staff set up a round."))


def _refuse_if_approved(call: Call) -> None:
    if AllocationRound.objects.filter(call=call, state=RoundState.APPROVED).exists():
        raise Conflict(_("The round of this call is approved; its setup is fixed."), code="round_approved")


def _whole(value, least: int, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def _track_errors(data, call_pools: dict[str, CallPool]) -> list[str]:
    if not isinstance(data, dict):
        return [_("Each track is an object with code, name, min_gpus, max_gpus, max_days and pools.")]
    problems = []
    code = data.get("code")
    label = code if isinstance(code, str) and code else "?"
    if not isinstance(code, str) or not CODE.match(code):
        problems.append(
            _("%(track)s: the code is 1–32 lower-case letters, digits or dashes.") % {"track": label}
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append(_("%(track)s: a name of 1–200 characters is required.") % {"track": label})
    least, most = data.get("min_gpus"), data.get("max_gpus")
    if not _whole(least, 1, MAX_GPUS) or not _whole(most, 1, MAX_GPUS) or least > most:
        problems.append(
            _("%(track)s: min_gpus and max_gpus are 1–%(most)s, the minimum at most the maximum.")
            % {"track": label, "most": MAX_GPUS}
        )
    if not _whole(data.get("max_days"), 1, MAX_DAYS):
        problems.append(_("%(track)s: max_days is 1–%(most)s.") % {"track": label, "most": MAX_DAYS})
    stages = data.get("stage_months", [])
    if not isinstance(stages, list) or len(stages) > MAX_STAGES or not all(_whole(m, 1, 60) for m in stages):
        problems.append(
            _("%(track)s: stage_months is a list of at most %(most)s month counts, each 1–60.")
            % {"track": label, "most": MAX_STAGES}
        )
    pools = data.get("pools")
    if not isinstance(pools, dict) or not pools:
        problems.append(_("%(track)s: give GPU-hours per GPU type in pools.") % {"track": label})
    else:
        for gpu_type, hours in pools.items():
            if gpu_type not in call_pools:
                problems.append(
                    _("%(track)s: the call does not offer %(gpu_type)s.")
                    % {"track": label, "gpu_type": gpu_type}
                )
            elif not _whole(hours, 1, call_pools[gpu_type].total_gpu_hours):
                problems.append(
                    _("%(track)s: %(gpu_type)s is 1–%(most)s GPU-hours.")
                    % {
                        "track": label,
                        "gpu_type": gpu_type,
                        "most": f"{call_pools[gpu_type].total_gpu_hours:,}",
                    }
                )
    return problems


def call_tracks_set(*, staff, call: Call, tracks: list) -> list[Track]:
    """Replace the call's tracks (by code: kept, changed, added, removed). A track that applications
    chose cannot be removed. Field errors under ``tracks``; audited."""
    _require_staff(staff)
    if not isinstance(tracks, list) or not tracks:
        raise InvalidInput(_("The tracks are not valid."), fields={"tracks": [_("Give at least one track.")]})
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call.pk)
        _refuse_if_approved(call)
        call_pools = {p.gpu_type: p for p in call.pools.all()}
        problems = [p for data in tracks for p in _track_errors(data, call_pools)]
        codes = [t.get("code") for t in tracks if isinstance(t, dict)]
        if len(set(codes)) != len(codes):
            problems.append(_("Each track's code appears once."))
        if not problems:
            for gpu_type, pool in call_pools.items():
                total = sum(t["pools"].get(gpu_type, 0) for t in tracks)
                if total > pool.total_gpu_hours:
                    problems.append(
                        _("%(gpu_type)s: the tracks share %(total)s GPU-hours; the call's pool is %(pool)s.")
                        % {"gpu_type": gpu_type, "total": f"{total:,}", "pool": f"{pool.total_gpu_hours:,}"}
                    )
        existing = {t.code: t for t in call.tracks.all()}
        for code, track in existing.items():
            if code not in codes and track.applications.exists():
                problems.append(
                    _("%(track)s: applications chose this track; it cannot be removed.") % {"track": code}
                )
        if problems:
            raise InvalidInput(_("The tracks are not valid."), fields={"tracks": problems})
        for code, track in existing.items():
            if code not in codes:
                track.delete()
        saved = []
        for data in tracks:
            track, _created = Track.objects.update_or_create(
                call=call,
                code=data["code"],
                defaults={
                    "name": data["name"].strip(),
                    "min_gpus": data["min_gpus"],
                    "max_gpus": data["max_gpus"],
                    "max_days": data["max_days"],
                    "stage_months": list(data.get("stage_months", [])),
                },
            )
            track.pools.all().delete()
            TrackPool.objects.bulk_create(
                TrackPool(track=track, gpu_type=t, gpu_hours=h) for t, h in sorted(data["pools"].items())
            )
            saved.append(track)
        audit_record(actor=staff, target=call, action="call_tracks_set", data={"tracks": tracks})
    return saved


LEVER_FIELDS = (
    "sector_shares",
    "regional_share",
    "regional_bonus",
    "max_gpu_hours_per_org",
    "max_awards_per_org",
    "agreement_terms",
    "agreement_version",
    "agreement_days",
    "reclaim_threshold",
)


def call_levers(call: Call) -> dict:
    return {name: getattr(call, name) for name in LEVER_FIELDS}


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _lever_errors(levers: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    shares = levers["sector_shares"]
    if not isinstance(shares, dict) or any(
        k not in OrganisationType.values or not _number(v) or not 0 <= v <= 1 for k, v in shares.items()
    ):
        errors["sector_shares"] = [
            _("Organisation type → a share from 0 to 1; the types are %(types)s.")
            % {"types": ", ".join(OrganisationType.values)}
        ]
    for name, most in (("regional_share", 1.0), ("regional_bonus", MAX_BONUS), ("reclaim_threshold", 1.0)):
        if not _number(levers[name]) or not 0 <= levers[name] <= most:
            errors[name] = [_("A number from 0 to %(most)s.") % {"most": most}]
    if not errors:
        problem = Levers(pools={}, sector_shares=shares, regional_share=levers["regional_share"]).problems()
        if problem:
            errors["sector_shares"] = [_("The shares of a pool (sectors and regional) add up to at most 1.")]
    for name in ("max_gpu_hours_per_org", "max_awards_per_org"):
        if levers[name] is not None and not _whole(levers[name], 1, 100_000_000):
            errors[name] = [_("Blank for no cap, or a whole number of 1 or more.")]
    if not isinstance(levers["agreement_terms"], str) or len(levers["agreement_terms"]) > 20000:
        errors["agreement_terms"] = [_("At most 20000 characters.")]
    version = levers["agreement_version"]
    if not isinstance(version, str) or len(version) > 40:
        errors["agreement_version"] = [_("At most 40 characters.")]
    elif (levers["agreement_terms"] or "").strip() and not version.strip():
        errors["agreement_version"] = [_("Terms need a version, so that what was accepted is on record.")]
    if not _whole(levers["agreement_days"], 1, 90):
        errors["agreement_days"] = [_("From 1 to 90 days.")]
    return errors


def call_levers_set(*, staff, call: Call, levers: dict) -> Call:
    """Set the call's round levers (those given; the rest kept). Field errors by lever; audited."""
    _require_staff(staff)
    if not isinstance(levers, dict):
        raise InvalidInput(_("The levers are not valid."), fields={"levers": [_("Give levers by name.")]})
    unknown = sorted(set(levers) - set(LEVER_FIELDS))
    if unknown:
        raise InvalidInput(
            _("The levers are not valid."), fields={str(name)[:40]: [_("Unknown lever.")] for name in unknown}
        )
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call.pk)
        _refuse_if_approved(call)
        before = call_levers(call)
        merged = {**before, **levers}
        errors = _lever_errors(merged)
        if errors:
            raise InvalidInput(_("The levers are not valid."), fields=errors)
        for name, value in merged.items():
            setattr(call, name, value)
        call.save(update_fields=list(LEVER_FIELDS))
        audit_record(actor=staff, target=call, action="call_levers_set", data={"from": before, "to": merged})
    return call
