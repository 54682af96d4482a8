"""The runtime history the planner predicts from (scheduler.core.predict), read from finished jobs,
how recent estimated starts turned out (scheduler.core.calibration), read from started ones, and how
long allocations' recent jobs waited against how long they have run (Policy.preemption_wait_budget).

For the runtime history, a finished job counts when it ran once start to end (no requeue, so its run
time is known) and ended by itself (succeeded, failed or timed out: a cancelled or stopped job says
little about how long its kind runs). Only the allocations in play are read, newest first, up to
HISTORY_ROWS jobs.
"""

from datetime import timedelta

from django.db.models import DurationField, ExpressionWrapper, F, Q, Sum

from scheduler.core.calibration import WaitCalibration, WaitSample
from scheduler.core.predict import FinishedRun, JobTraits, RuntimeHistory
from scheduler.models import Job
from scheduler.states import JobState

HISTORY_DAYS = 90
HISTORY_ROWS = 5000
TRAIT_FIELDS = (
    "allocation_id",
    "created_by_id",
    "name",
    "command",
    "environment_name",
    "image",
    "gpus_per_pod",
    "pods",
)


def job_traits(row: dict) -> JobTraits:
    """The traits of a job from a values() row with TRAIT_FIELDS."""
    command = row["command"]
    return JobTraits(
        allocation_id=str(row["allocation_id"]),
        submitter=str(row["created_by_id"]),
        name=row["name"],
        command=" ".join(command) if isinstance(command, list) else str(command),
        environment=row["environment_name"] or row["image"],
        gpus=row["gpus_per_pod"] * row["pods"],
    )


def runtime_history(allocation_ids, now) -> RuntimeHistory:
    rows = (
        Job.objects.filter(
            allocation_id__in=allocation_ids,
            state__in=[JobState.SUCCEEDED, JobState.FAILED, JobState.TIMED_OUT],
            requeues=0,
            started_at__isnull=False,
            finished_at__gte=now - timedelta(days=HISTORY_DAYS),
        )
        .order_by("-finished_at")
        .values(*TRAIT_FIELDS, "started_at", "finished_at", "max_runtime_minutes")[:HISTORY_ROWS]
    )
    return RuntimeHistory(
        FinishedRun(
            job_traits(row),
            max(0.0, (row["finished_at"] - row["started_at"]).total_seconds()),
            row["max_runtime_minutes"] * 60.0,
            row["finished_at"].timestamp(),
        )
        for row in rows
    )


CALIBRATION_DAYS = 14
CALIBRATION_ROWS = 5000


def wait_calibration(now) -> WaitCalibration:
    """How recent plans' first estimates turned out: jobs that started in one go (no requeue) in the
    last CALIBRATION_DAYS, newest CALIBRATION_ROWS, fed oldest first (core/calibration.py)."""
    rows = (
        Job.objects.filter(
            requeues=0,
            started_at__gte=now - timedelta(days=CALIBRATION_DAYS),
            first_estimate_at__isnull=False,
            first_planned_start__isnull=False,
        )
        .order_by("-started_at")
        .values_list("gpu_type", "first_estimate_at", "first_planned_start", "started_at")[:CALIBRATION_ROWS]
    )
    return WaitCalibration(
        WaitSample(gpu_type, (planned - given).total_seconds(), (started - given).total_seconds())
        for gpu_type, given, planned, started in reversed(list(rows))
    )


def recent_waits(allocation_ids, now, window_s: float) -> dict[int, tuple[float, float]]:
    """Allocation pk → (seconds its jobs queued before their first start, seconds from that start to
    their end or now), over its jobs that started and have not ended, or ended in the last ``window_s``
    (core/model.py AllocationState.waited_s, ran_s), summed by the database in one query."""
    rows = (
        Job.objects.filter(allocation_id__in=allocation_ids, started_at__isnull=False)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=now - timedelta(seconds=window_s)))
        .values("allocation_id")
        .annotate(
            waited=Sum(ExpressionWrapper(F("started_at") - F("submitted_at"), output_field=DurationField())),
            ended=Sum(ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())),
            open_started=Sum(
                ExpressionWrapper(now - F("started_at"), output_field=DurationField()),
                filter=Q(finished_at__isnull=True),
            ),
        )
    )
    return {
        row["allocation_id"]: (
            max(0.0, _seconds(row["waited"])),
            max(0.0, _seconds(row["ended"]) + _seconds(row["open_started"])),
        )
        for row in rows
    }


def _seconds(duration) -> float:
    return duration.total_seconds() if duration is not None else 0.0
