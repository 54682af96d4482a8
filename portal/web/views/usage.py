"""Usage in the portal: the figures and charts that job, allocation and organisation pages show, and
CSV downloads of the monthly rows (the columns of quotas.reports.CSV_COLUMNS, as the API exports them).

All figures come from quotas.reports; nothing is recomputed here. A download is open to whoever may open
the page it belongs to (members of the organisation, and staff); anyone else gets 404.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required

from portal.csv_download import csv_download
from portal.organisations.selectors import organisations_visible_to
from portal.web.access import visible_or_404
from portal.web.charts import bar_chart, per_month
from quotas.models import Allocation, UsageRecord
from quotas.reports import CSV_COLUMNS, monthly_usage, usage_summary
from quotas.selectors import allocations_visible_to
from scheduler.selectors import jobs_visible_to


def usage_context(records) -> dict:
    """Totals, monthly rows and the GPU-hours-per-month chart of ``records`` (a UsageRecord queryset)."""
    months = monthly_usage(records)
    return {
        "usage": usage_summary(records),
        "usage_months": months,
        "usage_chart": bar_chart(per_month(months)) if months else None,
        **energy_and_cost_charts(months),
    }


def energy_and_cost_charts(months: list[dict]) -> dict:
    """kWh and KRW per month (all GPU types together) from ``monthly_usage`` rows; None without rows."""
    if not months:
        return {"energy_chart": None, "cost_chart": None}
    return {
        "energy_chart": bar_chart(per_month(months, "energy_kwh")),
        "cost_chart": bar_chart(per_month(months, "cost_krw")),
    }


def idle_rules() -> dict:
    """The numbers behind an allocation's idle policy, for web/includes/idle_policy.html."""
    return {
        "idle_threshold": settings.GPUGRANT_IDLE_UTILISATION_PCT,
        "idle_warn_minutes": settings.GPUGRANT_IDLE_WARN_AFTER_S // 60,
        "idle_stop_minutes": settings.GPUGRANT_IDLE_STOP_AFTER_S // 60,
    }


def organisation_usage_context(organisation) -> dict:
    """Totals over all the organisation's allocations, and each allocation's that has usage."""
    records = UsageRecord.objects.filter(allocation__organisation=organisation)
    allocations = (
        Allocation.objects.filter(organisation=organisation, usage_records__isnull=False)
        .distinct()
        .order_by("-created_at")
    )
    return {
        "usage": usage_summary(records),
        **energy_and_cost_charts(monthly_usage(records)),
        "usage_by_allocation": [
            {"allocation": allocation, "usage": usage_summary(records.filter(allocation=allocation))}
            for allocation in allocations
        ],
    }


@login_required
def job_usage_csv(request, public_id):
    job = visible_or_404(jobs_visible_to(request.user), public_id)
    rows = monthly_usage(UsageRecord.objects.filter(job=job))
    return csv_download(rows, CSV_COLUMNS, f"job-{job.public_id}-usage.csv")


@login_required
def allocation_usage_csv(request, public_id):
    allocation = visible_or_404(allocations_visible_to(request.user), public_id)
    rows = monthly_usage(UsageRecord.objects.filter(allocation=allocation))
    return csv_download(rows, CSV_COLUMNS, f"allocation-{allocation.public_id}-usage.csv")


@login_required
def organisation_usage_csv(request, public_id):
    organisation = visible_or_404(organisations_visible_to(request.user), public_id)
    rows = monthly_usage(UsageRecord.objects.filter(allocation__organisation=organisation))
    return csv_download(rows, CSV_COLUMNS, f"organisation-{organisation.public_id}-usage.csv")
