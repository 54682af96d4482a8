"""What the programme owes each provider: the GPU-hours used on the nodes of each provider's clusters,
per GPU type and month (Asia/Seoul calendar, settings.TIME_ZONE), settled against its contracts by
portal/providers/settlement.py.

A usage record counts in the month its interval starts (intervals are one metering period long), as
the ledger charged it (a quarantined record's energy is doubtful, its GPU time is not). Nodes not tied to a cluster
(settings.GPUGRANT_CLUSTER unset) are no provider's: their usage is in no line.
"""

import re
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from portal.errors import InvalidInput
from portal.providers.models import Contract
from portal.providers.settlement import ContractMonth, ContractTerms, Unmatched, next_month, settle
from quotas.models import UsageRecord
from scheduler.models import GpuNode

SECONDS_PER_HOUR = Decimal(3600)
MONTH = re.compile(r"(\d{4})-(\d{2})\Z")
MAX_MONTHS = 36
# A line as the API answers it and the CSV export (API and staff page) writes it.
LINE_COLUMNS = [
    "provider",
    "contract",
    "gpu_type",
    "month",
    "kind",
    "rented_gpu_hours",
    "used_gpu_hours",
    "idle_reserved_gpu_hours",
    "owed_krw",
    "utilisation",
]


def month_errors(value: str, name: str, errors: dict) -> date | None:
    """The first day of the month ``value`` (YYYY-MM), or None with a field error under ``name``."""
    match = MONTH.match(value or "")
    if match and 2000 <= int(match[1]) <= 2999 and 1 <= int(match[2]) <= 12:
        return date(int(match[1]), int(match[2]), 1)
    errors[name] = [_("A month, YYYY-MM.")]
    return None


def settlement_period(first_text: str, last_text: str, errors: dict | None = None) -> tuple[date, date]:
    """The months ``from``..``to`` of a settlement request; InvalidInput with every field's error (with
    those already in ``errors``) if either is not a month, they are reversed, or span over MAX_MONTHS."""
    errors = dict(errors or {})
    first, last = month_errors(first_text, "from", errors), month_errors(last_text, "to", errors)
    if first and last:
        span = (last.year - first.year) * 12 + last.month - first.month
        if span < 0:
            errors["to"] = [_("The last month cannot come before the first.")]
        elif span >= MAX_MONTHS:
            errors["to"] = [_("At most %(n)d months at once.") % {"n": MAX_MONTHS}]
    if errors:
        raise InvalidInput(_("Invalid settlement period."), fields=errors)
    return first, last


def line_row(line: ContractMonth) -> dict:
    return {
        "provider": line.provider,
        "contract": line.contract_id,
        "gpu_type": line.gpu_type,
        "month": line.month.strftime("%Y-%m"),
        "kind": line.kind,
        "rented_gpu_hours": str(line.rented_gpu_hours),
        "used_gpu_hours": str(round(line.used_gpu_hours, 3)),
        "idle_reserved_gpu_hours": str(round(line.idle_reserved_gpu_hours, 3)),
        "owed_krw": str(line.owed_krw),
        "utilisation": None if line.utilisation is None else round(line.utilisation, 4),
    }


def provider_usage(first_month: date, last_month: date) -> dict[tuple[str, str, date], Decimal]:
    """(provider, GPU type, first day of month) → GPU-hours used, for months first_month..last_month."""
    provider = GpuNode.objects.filter(name=OuterRef("node"), cluster__isnull=False).values(
        "cluster__provider__name"
    )[:1]
    rows = (
        UsageRecord.objects.filter(
            interval_start__date__gte=first_month,
            interval_start__date__lt=next_month(last_month),
        )
        .annotate(provider=Subquery(provider), month=TruncMonth("interval_start"))
        .exclude(provider=None)
        .values("provider", "gpu_type", "month")
        .annotate(gpu_seconds=Sum("gpu_seconds"))
    )
    return {
        (row["provider"], row["gpu_type"], row["month"].date()): Decimal(row["gpu_seconds"])
        / SECONDS_PER_HOUR
        for row in rows
    }


def contract_terms(first_month: date, last_month: date) -> list[ContractTerms]:
    contracts = Contract.objects.filter(starts_on__lt=next_month(last_month), ends_on__gte=first_month)
    return [
        ContractTerms(
            str(c.public_id),
            c.provider.name,
            c.gpu_type,
            c.gpus,
            max(c.starts_on, first_month),
            min(c.ends_on, next_month(last_month) - timedelta(days=1)),
            c.price_krw_per_gpu_hour,
            c.kind,
        )
        for c in contracts.select_related("provider")
    ]


def settlement(first_month: date, last_month: date) -> tuple[list[ContractMonth], list[Unmatched]]:
    """One line per contract and month in first_month..last_month, and usage no contract covers."""
    return settle(contract_terms(first_month, last_month), provider_usage(first_month, last_month))


def idle_reserved_krw(line: ContractMonth) -> Decimal:
    """What the idle part of a reserved line costs: its share of the amount owed (whole won)."""
    if not line.rented_gpu_hours or not line.idle_reserved_gpu_hours:
        return Decimal(0)
    return (line.owed_krw * line.idle_reserved_gpu_hours / line.rented_gpu_hours).quantize(Decimal(1))


def provider_totals(lines: list[ContractMonth]) -> list[dict]:
    """Per provider over the period: GPU-hours rented, used and idle though reserved, won owed and
    won paid for idle reserved capacity, and utilisation (used ÷ rented); then one row for all."""
    totals: dict[str, dict] = {}
    keys = ("rented_gpu_hours", "used_gpu_hours", "idle_reserved_gpu_hours", "owed_krw", "idle_krw")
    for line in lines:
        row = totals.setdefault(line.provider, {"provider": line.provider} | dict.fromkeys(keys, Decimal(0)))
        for key in keys[:-1]:
            row[key] += getattr(line, key)
        row["idle_krw"] += idle_reserved_krw(line)
    rows = [totals[name] for name in sorted(totals)]
    if rows:
        rows.append({"provider": None} | {key: sum((row[key] for row in rows), Decimal(0)) for key in keys})
    for row in rows:
        rented = row["rented_gpu_hours"]
        row["utilisation"] = float(row["used_gpu_hours"] / rented) if rented else None
    return rows
