"""Opening and editing calls and their GPU-hour pools (staff only)."""

from collections.abc import Sequence
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.calls.models import Call
from portal.errors import InvalidInput, NotAllowed
from portal.organisations.models import OrganisationType
from quotas.models import CallPool

MAX_POOL_GPU_HOURS = 100_000_000
# Every date of a call (and so of the applications and allocations under it) lies in this range: far
# from the ends of the calendar, so that no time-zone shift or date arithmetic can overflow.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def _validate_call(
    *,
    title: str,
    description: str,
    opens_at: datetime | None,
    closes_at: datetime | None,
    eligible_org_types: Sequence[str],
    allocation_start: date | None,
    allocation_end: date | None,
    pools: Sequence[dict],
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    dates = {
        "opens_at": opens_at,
        "closes_at": closes_at,
        "allocation_start": allocation_start,
        "allocation_end": allocation_end,
    }
    for name, value in dates.items():
        if value is None:
            errors[name] = [_("This field is required.")]
        elif not EARLIEST_DATE <= (value.date() if isinstance(value, datetime) else value) <= LATEST_DATE:
            errors[name] = [
                _("Give a date from %(earliest)s to %(latest)s.")
                % {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()}
            ]
            # Not compared below: a year-1 time in a zone east of UTC is before year 1 in UTC, which
            # no Python datetime holds (comparing it, or saving it, would overflow).
            dates[name] = None
    opens_at, closes_at, allocation_start, allocation_end = dates.values()
    if not (title or "").strip():
        errors["title"] = [_("This field is required.")]
    elif len(title) > 200:
        errors["title"] = [_("At most 200 characters.")]
    if len(description or "") > 5000:
        errors["description"] = [_("At most 5000 characters.")]
    if opens_at and closes_at and closes_at <= opens_at:
        errors["closes_at"] = [_("The call must close after it opens.")]
    if allocation_start and allocation_end and allocation_end <= allocation_start:
        errors["allocation_end"] = [_("The allocation period must end after it starts.")]
    if closes_at and allocation_end and allocation_end <= closes_at.date():
        errors.setdefault("allocation_end", []).append(
            _("The allocation period must end after the call closes.")
        )
    unknown = sorted(set(eligible_org_types) - set(OrganisationType.values))
    if not eligible_org_types:
        errors["eligible_org_types"] = [_("Choose at least one organisation type.")]
    elif unknown:
        errors["eligible_org_types"] = [
            _("Unknown organisation types: %(types)s.") % {"types": ", ".join(unknown)}
        ]
    pool_errors: list[str] = []
    seen: set[str] = set()
    if not pools:
        pool_errors.append(_("Offer at least one GPU type."))
    for pool in pools:
        gpu_type = pool.get("gpu_type")
        total = pool.get("total_gpu_hours")
        cap = pool.get("max_gpu_hours_per_application")
        if gpu_type not in settings.GPUGRANT_GPU_TYPES:
            pool_errors.append(
                _("Unknown GPU type %(gpu_type)r; known: %(known)s.")
                % {"gpu_type": gpu_type, "known": ", ".join(settings.GPUGRANT_GPU_TYPES)}
            )
            continue
        if gpu_type in seen:
            pool_errors.append(_("%(gpu_type)s is listed twice.") % {"gpu_type": gpu_type})
        seen.add(gpu_type)
        if not isinstance(total, int) or isinstance(total, bool) or not 1 <= total <= MAX_POOL_GPU_HOURS:
            pool_errors.append(
                _("%(gpu_type)s: the pool must be 1–%(most)s GPU-hours.")
                % {"gpu_type": gpu_type, "most": f"{MAX_POOL_GPU_HOURS:,}"}
            )
        elif not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= total:
            pool_errors.append(
                _("%(gpu_type)s: the per-application maximum must be 1–%(most)s GPU-hours.")
                % {"gpu_type": gpu_type, "most": f"{total:,}"}
            )
    if pool_errors:
        errors["pools"] = pool_errors
    return errors


def call_create(
    *,
    staff,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    eligible_org_types: Sequence[str],
    allocation_start: date,
    allocation_end: date,
    pools: Sequence[dict],
    description: str = "",
) -> Call:
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only staff open calls."))
    errors = _validate_call(
        title=title,
        description=description,
        opens_at=opens_at,
        closes_at=closes_at,
        eligible_org_types=eligible_org_types,
        allocation_start=allocation_start,
        allocation_end=allocation_end,
        pools=pools,
    )
    if errors:
        raise InvalidInput(_("The call could not be created."), fields=errors)
    with transaction.atomic():
        call = Call.objects.create(
            title=title.strip(),
            description=description,
            opens_at=opens_at,
            closes_at=closes_at,
            eligible_org_types=sorted(set(eligible_org_types)),
            allocation_start=allocation_start,
            allocation_end=allocation_end,
            created_by=staff,
        )
        for pool in pools:
            CallPool.objects.create(
                call=call,
                gpu_type=pool["gpu_type"],
                total_gpu_hours=pool["total_gpu_hours"],
                max_gpu_hours_per_application=pool["max_gpu_hours_per_application"],
            )
        audit_record(actor=staff, target=call, action="call_created", data={"pools": list(map(dict, pools))})
    return call


def call_update(
    *,
    call: Call,
    staff,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    eligible_org_types: Sequence[str],
    allocation_start: date,
    allocation_end: date,
    pools: Sequence[dict],
    description: str = "",
) -> Call:
    """Edit a call. Pools are locked so that a pool never shrinks below what is already awarded."""
    if not getattr(staff, "is_staff", False):
        raise NotAllowed(_("Only staff edit calls."))
    errors = _validate_call(
        title=title,
        description=description,
        opens_at=opens_at,
        closes_at=closes_at,
        eligible_org_types=eligible_org_types,
        allocation_start=allocation_start,
        allocation_end=allocation_end,
        pools=pools,
    )
    if errors:
        raise InvalidInput(_("The call could not be saved."), fields=errors)
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call.pk)
        existing = {
            p.gpu_type: p for p in CallPool.objects.select_for_update().filter(call=call).order_by("gpu_type")
        }
        wanted = {p["gpu_type"]: p for p in pools}
        pool_errors = []
        for gpu_type, pool in existing.items():
            if gpu_type not in wanted and pool.awarded_gpu_hours > 0:
                pool_errors.append(
                    _("%(gpu_type)s: %(awarded)s GPU-hours are awarded; it cannot be removed.")
                    % {"gpu_type": gpu_type, "awarded": pool.awarded_gpu_hours}
                )
            elif gpu_type in wanted and wanted[gpu_type]["total_gpu_hours"] < pool.awarded_gpu_hours:
                pool_errors.append(
                    _("%(gpu_type)s: %(awarded)s GPU-hours are already awarded; the pool cannot be smaller.")
                    % {"gpu_type": gpu_type, "awarded": pool.awarded_gpu_hours}
                )
        if pool_errors:
            raise InvalidInput(_("The call could not be saved."), fields={"pools": pool_errors})
        for gpu_type, pool in existing.items():
            if gpu_type not in wanted:
                pool.delete()
        for gpu_type, data in wanted.items():
            CallPool.objects.update_or_create(
                call=call,
                gpu_type=gpu_type,
                defaults={
                    "total_gpu_hours": data["total_gpu_hours"],
                    "max_gpu_hours_per_application": data["max_gpu_hours_per_application"],
                },
            )
        call.title = title.strip()
        call.description = description
        call.opens_at = opens_at
        call.closes_at = closes_at
        call.eligible_org_types = sorted(set(eligible_org_types))
        call.allocation_start = allocation_start
        call.allocation_end = allocation_end
        call.save()
        audit_record(actor=staff, target=call, action="call_updated", data={"pools": list(map(dict, pools))})
    return call
