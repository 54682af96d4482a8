"""Recording estimated starts: the first one each job is given, and every one that moves.

A cycle re-estimates every few seconds; an estimate is recorded again only when it moves by more than
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


def record_estimates(estimates: dict[str, StartEstimate], now) -> int:
    """Keep the estimates (core job id → StartEstimate) that are new or moved; returns how many."""
    if not estimates:
        return 0
    epoch = now.timestamp()
    rows = Job.objects.filter(pk__in=[int(job_id) for job_id in estimates]).only(
        "pk", "estimated_start", "first_estimated_start"
    )
    changed, records = [], []
    for job in rows:
        estimate = estimates[str(job.pk)]
        if not _moved(job.estimated_start, estimate.at, epoch):
            continue
        job.estimated_start = datetime.fromtimestamp(estimate.at, tz=UTC)
        job.first_estimated_start = job.first_estimated_start or job.estimated_start
        changed.append(job)
        records.append(
            JobStartEstimate(
                job=job,
                recorded_at=now,
                start=job.estimated_start,
                earliest=datetime.fromtimestamp(estimate.low, tz=UTC),
                latest=datetime.fromtimestamp(estimate.high, tz=UTC),
            )
        )
    Job.objects.bulk_update(changed, ["estimated_start", "first_estimated_start"])
    JobStartEstimate.objects.bulk_create(records)
    return len(records)
