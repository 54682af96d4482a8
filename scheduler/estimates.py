"""Recording estimated starts: the first one each job is given, and every one that moves.

The first one also keeps when it was given and the plan's own estimate before calibration, which
``scheduler.history.wait_calibration`` learns from once the job has started. A cycle re-estimates every few seconds; an estimate is recorded again only when it moves by more than
MOVE_MIN_S or MOVE_FRACTION of the wait it announces, so the record shows real changes, not jitter.
"""

from datetime import UTC, datetime

from scheduler.core.estimate import StartEstimate
from scheduler.models import Job, JobStartEstimate

MOVE_MIN_S = 5 * 60
MOVE_FRACTION = 0.1


def _moved(old: datetime | None, new: float, now: float) -> bool:
    if old is None:
        return True
    return abs(old.timestamp() - new) > max(MOVE_MIN_S, MOVE_FRACTION * max(0.0, new - now))


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def record_estimates(
    estimates: dict[str, StartEstimate], now, planned: dict[str, StartEstimate] | None = None
) -> int:
    """Keep the estimates (core job id → StartEstimate, as shown) that are new or moved; returns how
    many. ``planned``: the plan's own estimates before calibration, kept with each job's first one."""
    if not estimates:
        return 0
    epoch = now.timestamp()
    planned = planned if planned is not None else estimates
    rows = Job.objects.filter(pk__in=[int(job_id) for job_id in estimates]).only(
        "pk", "estimated_start", "first_estimated_start", "first_estimate_at", "first_planned_start"
    )
    changed, records = [], []
    for job in rows:
        estimate = estimates[str(job.pk)]
        if not _moved(job.estimated_start, estimate.at, epoch):
            continue
        job.estimated_start = _moment(estimate.at)
        if job.first_estimated_start is None:
            job.first_estimated_start = job.estimated_start
            job.first_estimate_at = now
            job.first_planned_start = _moment(planned[str(job.pk)].at)
        changed.append(job)
        records.append(
            JobStartEstimate(
                job=job,
                recorded_at=now,
                start=job.estimated_start,
                earliest=_moment(estimate.low),
                latest=_moment(estimate.high),
            )
        )
    Job.objects.bulk_update(
        changed, ["estimated_start", "first_estimated_start", "first_estimate_at", "first_planned_start"]
    )
    JobStartEstimate.objects.bulk_create(records)
    return len(records)
