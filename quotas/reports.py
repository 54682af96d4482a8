"""Usage reports: GPU-hours, energy, power, utilisation, cost and CO₂ — per job, allocation, organisation, month."""

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import Count, ExpressionWrapper, F, FloatField, IntegerField, Max, Sum
from django.db.models.functions import Cast, TruncMonth

from quotas.models import SECONDS_PER_HOUR, UsageRecord

MJ_PER_KWH = 3_600_000_000  # millijoules
UTIL_WEIGHTED = ExpressionWrapper(F("avg_utilisation_pct") * F("gpu_seconds"), output_field=FloatField())


@dataclass(frozen=True)
class UsageSummary:
    gpu_hours: float
    energy_kwh: float
    average_power_w: float  # per GPU, while bound
    average_utilisation_pct: float  # weighted by GPU-seconds
    cost_krw: int
    co2_kg: float
    records: int
    estimated: bool  # some energy was integrated from power, apportioned, or taken from edges only
    simulated: bool  # some figures come from simulated GPUs
    quarantined: bool  # some intervals failed the power sanity check

    def as_dict(self) -> dict:
        return asdict(self)


def summarise(
    *,
    gpu_seconds: int,
    energy_mj: int,
    util_weighted: float,
    gpu_type_seconds: dict[str, int],
    records: int,
    estimated: bool,
    simulated: bool,
    quarantined: bool,
) -> UsageSummary:
    prices = settings.GPUGRANT_PRICE_KRW_PER_GPU_HOUR
    kwh = energy_mj / MJ_PER_KWH
    return UsageSummary(
        gpu_hours=round(gpu_seconds / SECONDS_PER_HOUR, 4),
        energy_kwh=round(kwh, 4),
        average_power_w=round(energy_mj / 1000 / gpu_seconds, 1) if gpu_seconds else 0.0,
        average_utilisation_pct=round(util_weighted / gpu_seconds, 1) if gpu_seconds else 0.0,
        cost_krw=round(sum(prices.get(t, 0) * s / SECONDS_PER_HOUR for t, s in gpu_type_seconds.items())),
        co2_kg=round(kwh * settings.GPUGRANT_GRID_KG_CO2_PER_KWH, 4),
        records=records,
        estimated=estimated,
        simulated=simulated,
        quarantined=quarantined,
    )


def _aggregate(records) -> dict:
    return records.aggregate(
        total_gpu_seconds=Sum("gpu_seconds"),
        total_energy_mj=Sum("energy_mj"),
        util_weighted=Sum(UTIL_WEIGHTED),
        records=Count("id"),
        estimated=Max(Cast("estimated", IntegerField())),
        simulated=Max(Cast("simulated", IntegerField())),
        quarantined=Max(Cast("quarantined", IntegerField())),
    )


def usage_summary(records) -> UsageSummary:
    totals = _aggregate(records)
    by_type = dict(
        records.values("gpu_type").annotate(total=Sum("gpu_seconds")).values_list("gpu_type", "total")
    )
    return summarise(
        gpu_seconds=totals["total_gpu_seconds"] or 0,
        energy_mj=totals["total_energy_mj"] or 0,
        util_weighted=totals["util_weighted"] or 0.0,
        gpu_type_seconds=by_type,
        records=totals["records"],
        estimated=bool(totals["estimated"]),
        simulated=bool(totals["simulated"]),
        quarantined=bool(totals["quarantined"]),
    )


def job_usage(job) -> UsageSummary:
    return usage_summary(UsageRecord.objects.filter(job=job))


def monthly_usage(records) -> list[dict]:
    """One row per month and GPU type: the summary plus ``month`` and ``gpu_type``."""
    rows = (
        records.annotate(month=TruncMonth("interval_start"))
        .values("month", "gpu_type")
        .annotate(
            total_gpu_seconds=Sum("gpu_seconds"),
            total_energy_mj=Sum("energy_mj"),
            util_weighted=Sum(UTIL_WEIGHTED),
            records=Count("id"),
            estimated=Max(Cast("estimated", IntegerField())),
            simulated=Max(Cast("simulated", IntegerField())),
            quarantined=Max(Cast("quarantined", IntegerField())),
            jobs=Count("job", distinct=True),
        )
        .order_by("month", "gpu_type")
    )
    out = []
    for row in rows:
        summary = summarise(
            gpu_seconds=row["total_gpu_seconds"] or 0,
            energy_mj=row["total_energy_mj"] or 0,
            util_weighted=row["util_weighted"] or 0.0,
            gpu_type_seconds={row["gpu_type"]: row["total_gpu_seconds"] or 0},
            records=row["records"],
            estimated=bool(row["estimated"]),
            simulated=bool(row["simulated"]),
            quarantined=bool(row["quarantined"]),
        )
        out.append(
            {
                "month": row["month"].strftime("%Y-%m"),
                "gpu_type": row["gpu_type"],
                "jobs": row["jobs"],
                **summary.as_dict(),
            }
        )
    return out


CSV_COLUMNS = [
    "month",
    "gpu_type",
    "jobs",
    "gpu_hours",
    "energy_kwh",
    "average_power_w",
    "average_utilisation_pct",
    "cost_krw",
    "co2_kg",
    "records",
    "estimated",
    "simulated",
    "quarantined",
]
