"""What the programme owes each provider: the GPU-hours used on the nodes of each provider's clusters,
per GPU type and month (Asia/Seoul calendar, settings.TIME_ZONE), settled against its contracts by
portal/providers/settlement.py.

A usage record counts in the month its interval starts (intervals are one metering period long), as
the ledger charged it (a quarantined record's energy is doubtful, its GPU time is not). Nodes not tied to a cluster
(settings.GPUGRANT_CLUSTER unset) are no provider's: their usage is in no line.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import TruncMonth

from portal.providers.models import Contract
from portal.providers.settlement import ContractMonth, ContractTerms, Unmatched, next_month, settle
from quotas.models import UsageRecord
from scheduler.models import GpuNode

SECONDS_PER_HOUR = Decimal(3600)


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
