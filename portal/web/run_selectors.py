"""A job's usage records as one row per reporting interval: utilisation and power over its run."""

from django.db.models import Max, Sum

from portal.web.run_chart import run_chart
from quotas.reports import UTIL_WEIGHTED
from scheduler.models import Job


def job_run_series(job: Job) -> dict | None:
    """Per interval (all the job's GPUs together): minutes since the run's first interval, mean
    utilisation weighted by GPU-seconds, and the job's total power in watts; None without records."""
    intervals = list(
        job.usage_records.values("interval_start")
        .annotate(
            total_gpu_seconds=Sum("gpu_seconds"),
            total_energy_mj=Sum("energy_mj"),
            util_weighted=Sum(UTIL_WEIGHTED),
            last_end=Max("interval_end"),
        )
        .order_by("interval_start")
    )
    if not intervals:
        return None
    run_start = intervals[0]["interval_start"]
    rows = []
    for interval in intervals:
        length = (interval["last_end"] - interval["interval_start"]).total_seconds()
        rows.append(
            {
                "start": interval["interval_start"],
                "elapsed_seconds": (interval["last_end"] - run_start).total_seconds(),
                "utilisation_pct": round(interval["util_weighted"] / interval["total_gpu_seconds"], 1)
                if interval["total_gpu_seconds"]
                else 0.0,
                # Energy in joules over the interval's length: all GPUs' draw together.
                "power_w": round(interval["total_energy_mj"] / 1000 / length, 1) if length > 0 else 0.0,
            }
        )
    return {
        "rows": rows,
        "utilisation_chart": run_chart(
            [(row["elapsed_seconds"], row["utilisation_pct"]) for row in rows], top_value=100
        ),
        "power_chart": run_chart([(row["elapsed_seconds"], row["power_w"]) for row in rows]),
    }
