"""Domain rules for an application's content, shared by every entry point through the services."""

from datetime import date

from django.utils.translation import gettext as _

from portal.applications.fields import CONTENT
from portal.applications.models import ApplicationKind


def _text(errors, name, value, limit, required=True):
    if not isinstance(value, str) or (required and not value.strip()):
        errors[name] = [_("This field is required.")]
    elif len(value) > limit:
        errors[name] = [
            _("At most %(limit)s characters (got %(length)s).") % {"limit": limit, "length": len(value)}
        ]


def application_content_errors(
    *,
    call,
    kind: str,
    allocation,
    project_title,
    summary,
    field,
    requested_start,
    requested_end,
    max_concurrent_gpus,
    justification,
    gpu_requests: dict,
) -> dict[str, list[str]]:
    """Field → messages for everything wrong with the content; empty when it may be saved."""
    errors: dict[str, list[str]] = {}
    for name, value in (
        ("project_title", project_title),
        ("summary", summary),
        ("justification", justification),
    ):
        _text(errors, name, value, CONTENT[name].max_length)
    choices = [value for value, _label in CONTENT["field"].choices]
    if field not in choices:
        errors["field"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}]
    gpus = CONTENT["max_concurrent_gpus"]
    if not isinstance(max_concurrent_gpus, int) or isinstance(max_concurrent_gpus, bool):
        errors["max_concurrent_gpus"] = [_("A whole number of GPUs is required.")]
    elif not gpus.min_value <= max_concurrent_gpus <= gpus.max_value:
        # The message's 1 is min_value: the Korean catalogue translates it as written.
        errors["max_concurrent_gpus"] = [_("Must be between 1 and %(most)s.") % {"most": gpus.max_value}]

    dates_ok = isinstance(requested_start, date) and isinstance(requested_end, date)
    if not isinstance(requested_start, date):
        errors["requested_start"] = [_("A date is required.")]
    if not isinstance(requested_end, date):
        errors["requested_end"] = [_("A date is required.")]
    if dates_ok:
        if requested_end <= requested_start:
            errors["requested_end"] = [_("The end must be after the start.")]
        elif kind == ApplicationKind.CHANGE and allocation is not None:
            if requested_end < allocation.ends_on:
                errors["requested_end"] = [
                    _("A change request cannot shorten the allocation (ends %(end)s).")
                    % {"end": allocation.ends_on}
                ]
            elif requested_end > call.allocation_end:
                errors["requested_end"] = [
                    _("The call's allocation period ends %(end)s.") % {"end": call.allocation_end}
                ]
        else:
            if requested_start < call.allocation_start:
                errors["requested_start"] = [
                    _("The call's allocation period starts %(start)s.") % {"start": call.allocation_start}
                ]
            if requested_end > call.allocation_end:
                errors["requested_end"] = [
                    _("The call's allocation period ends %(end)s.") % {"end": call.allocation_end}
                ]

    errors.update(gpu_request_errors(call=call, kind=kind, gpu_requests=gpu_requests))
    return errors


def gpu_request_errors(*, call, kind: str, gpu_requests: dict) -> dict[str, list[str]]:
    pools = {pool.gpu_type: pool for pool in call.pools.all()}
    messages: list[str] = []
    if not isinstance(gpu_requests, dict):
        return {"gpu_requests": [_('Give GPU-hours per GPU type, e.g. {"A100": 2000}.')]}
    positive = 0
    for gpu_type, hours in gpu_requests.items():
        if gpu_type not in pools:
            offered = ", ".join(sorted(pools)) or "none"
            messages.append(
                _("%(gpu_type)s: this call does not offer that GPU type (offered: %(offered)s).")
                % {"gpu_type": gpu_type, "offered": offered}
            )
            continue
        if not isinstance(hours, int) or isinstance(hours, bool):
            messages.append(_("%(gpu_type)s: GPU-hours must be a whole number.") % {"gpu_type": gpu_type})
            continue
        if hours < 0:
            messages.append(_("%(gpu_type)s: GPU-hours cannot be negative.") % {"gpu_type": gpu_type})
            continue
        cap = pools[gpu_type].max_gpu_hours_per_application
        if hours > cap:
            messages.append(
                _("%(gpu_type)s: at most %(cap)s GPU-hours per application (asked %(asked)s).")
                % {"gpu_type": gpu_type, "cap": f"{cap:,}", "asked": f"{hours:,}"}
            )
            continue
        positive += hours > 0
    if not messages and positive == 0 and kind == ApplicationKind.NEW:
        messages.append(_("Request GPU-hours for at least one GPU type."))
    return {"gpu_requests": messages} if messages else {}


def track_errors(
    *, call, track, requested_start, requested_end, max_concurrent_gpus, gpu_requests
) -> tuple[dict[str, list[str]], object]:
    """Field → messages for an application's track (the track's code, or None), and the Track chosen.

    Where the call has tracks, one must be chosen; the application then asks for GPUs within the track's
    range, for at most its duration, and for one GPU type the track pools (its pools are per GPU type,
    and a round weighs each application against one pool)."""
    tracks = {t.code: t for t in call.tracks.all()}
    if not tracks:
        if track:
            return {"track": [_("This call has no tracks.")]}, None
        return {}, None
    if not track:
        return {"track": [_("Choose a track: %(codes)s.") % {"codes": ", ".join(sorted(tracks))}]}, None
    chosen = tracks.get(track) if isinstance(track, str) else None
    if chosen is None:
        return {
            "track": [_("No such track; choose one of: %(codes)s.") % {"codes": ", ".join(sorted(tracks))}]
        }, None
    errors: dict[str, list[str]] = {}
    if isinstance(max_concurrent_gpus, int) and not chosen.min_gpus <= max_concurrent_gpus <= chosen.max_gpus:
        errors["max_concurrent_gpus"] = [
            _("The %(track)s track is for %(least)s–%(most)s GPUs.")
            % {"track": chosen.name, "least": chosen.min_gpus, "most": chosen.max_gpus}
        ]
    if (
        isinstance(requested_start, date)
        and isinstance(requested_end, date)
        and (requested_end - requested_start).days > chosen.max_days
    ):
        errors["requested_end"] = [
            _("The %(track)s track lasts at most %(days)s days.")
            % {"track": chosen.name, "days": chosen.max_days}
        ]
    if isinstance(gpu_requests, dict):
        asked = sorted(t for t, h in gpu_requests.items() if isinstance(h, int) and h > 0)
        pooled = {p.gpu_type for p in chosen.pools.all()}
        if len(asked) > 1:
            errors["gpu_requests"] = [_("In a track, ask for one GPU type only.")]
        elif asked and asked[0] not in pooled:
            errors["gpu_requests"] = [
                _("The %(track)s track offers %(types)s.")
                % {"track": chosen.name, "types": ", ".join(sorted(pooled)) or "—"}
            ]
    return errors, chosen
