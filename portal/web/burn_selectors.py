"""An allocation's GPU-hours used per day and GPU type, shaped for its burn charts (one per budget)."""

from datetime import date

from django.db.models import Sum
from django.db.models.functions import TruncDate

from portal.web.burn_chart import burn_chart, cumulative, recent_rate, run_out_date
from quotas.models import SECONDS_PER_HOUR, Allocation


def allocation_burn(allocation: Allocation, *, today: date) -> list[dict]:
    """Per budget: awarded and used GPU-hours, the daily and cumulative series, the recent rate, the
    projected run-out date (None: not at this rate) and the chart geometry."""
    # Days in the portal's time zone: TruncDate uses the active one, as the page's dates do.
    rows = (
        allocation.usage_records.annotate(day=TruncDate("interval_end"))
        .values("gpu_type", "day")
        .annotate(seconds=Sum("gpu_seconds"))
        .order_by("day")
    )
    daily: dict[str, list[tuple[date, float]]] = {}
    for row in rows:
        daily.setdefault(row["gpu_type"], []).append((row["day"], row["seconds"] / SECONDS_PER_HOUR))
    burns = []
    for budget in allocation.budgets.all():
        days = daily.get(budget.gpu_type, [])
        used = cumulative(days)
        used_hours = used[-1][1] if used else 0.0
        rate = recent_rate(days, today=today)
        run_out_on = run_out_date(
            remaining_hours=budget.awarded_gpu_hours - used_hours, rate_per_day=rate, today=today
        )
        burns.append(
            {
                "gpu_type": budget.gpu_type,
                "awarded_hours": budget.awarded_gpu_hours,
                "used_hours": round(used_hours, 2),
                "rate_per_day": round(rate, 2),
                "run_out_on": run_out_on,
                "after_end": run_out_on is not None and run_out_on > allocation.ends_on,
                "cumulative": used,
                "chart": burn_chart(
                    start=allocation.starts_on,
                    end=allocation.ends_on,
                    used=used,
                    awarded_hours=budget.awarded_gpu_hours,
                    today=today,
                    run_out_on=run_out_on,
                ),
            }
        )
    return burns
