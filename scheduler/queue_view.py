"""The queue as users see it: position per GPU type, estimated start and the wait reason in words."""

from collections import defaultdict
from datetime import UTC, datetime

from django.db.models import Subquery
from django.utils.translation import gettext_lazy as _

from scheduler.core import WaitReason
from scheduler.core.estimate import StartEstimate
from scheduler.models import QueueView

ENTRIES_PER_TYPE = 2000

REASONS = {
    WaitReason.NO_FREE_GPUS: _(
        "All {gpu_type} GPUs are busy; jobs with a higher fair-share priority are ahead of it."
    ),
    WaitReason.RESERVED: _("GPUs are reserved for it; it starts when running jobs release them."),
    WaitReason.BEHIND_RESERVATION: _("Free {gpu_type} GPUs are reserved for an earlier, larger job."),
    WaitReason.CONCURRENCY_CAP: _("Its allocation already runs as many GPUs as it may at once."),
    WaitReason.SESSION_RESERVE: _("The free {gpu_type} GPUs left are held back for interactive sessions."),
    WaitReason.WAITING_FOR_PREEMPTION: _("Lower-priority jobs are being stopped to make room for it."),
    WaitReason.NEVER_FITS: _(
        "No set of {gpu_type} nodes is large enough for it now (nodes may be cordoned)."
    ),
}


def reason_text(reason: WaitReason, gpu_type: str) -> str:
    return str(REASONS[reason]).format(gpu_type=gpu_type)


def _prediction_entry(prediction) -> list | None:
    if prediction is None:
        return None
    return [prediction.runtime_s, prediction.low_s, prediction.high_s, prediction.basis, prediction.runs]


def store_queue_view(decision, estimates: dict[str, StartEstimate], snapshot, index, now) -> None:
    """Each waiting job's place, estimated start with its range, wait reason and predicted runtime."""
    types = {job.job_id: job.gpu_type for job in snapshot.queue}
    predictions = {job.job_id: job.prediction for job in snapshot.queue}
    entries: dict[str, dict] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for job_id in decision.order:
        reason = decision.waiting.get(job_id)
        if reason is None:
            continue  # started this cycle
        gpu_type = types[job_id]
        totals[gpu_type] += 1
        if totals[gpu_type] <= ENTRIES_PER_TYPE:
            estimate = estimates.get(job_id)
            entries[gpu_type][index.public_ids[job_id]] = [
                totals[gpu_type],
                estimate.at if estimate else None,
                reason.value,
                estimate.low if estimate else None,
                estimate.high if estimate else None,
                _prediction_entry(predictions.get(job_id)),
            ]
    known = set(QueueView.objects.values_list("gpu_type", flat=True))
    for gpu_type in known | set(totals):
        QueueView.objects.update_or_create(
            gpu_type=gpu_type,
            defaults={
                "computed_at": now,
                "total": totals.get(gpu_type, 0),
                "entries": entries.get(gpu_type, {}),
            },
        )


def queue_views(gpu_types) -> dict[str, QueueView]:
    return {view.gpu_type: view for view in QueueView.objects.filter(gpu_type__in=set(gpu_types))}


def queue_size(gpu_type: str) -> Subquery:
    """The size of ``gpu_type``'s queue at the last cycle (NULL if none ran), as a subquery to read it
    together with other rows (the submit view: with the allocation)."""
    return Subquery(QueueView.objects.filter(gpu_type=gpu_type).order_by("id").values("total")[:1])


def queue_view_of_size(gpu_type: str, total: int | None) -> QueueView | None:
    """The last cycle's view of ``gpu_type`` as a job admitted just now sees it, from the queue's size
    (queue_size; None: no cycle ran). Such a job cannot be among the view's entries yet, so the entries
    (up to ENTRIES_PER_TYPE per GPU type) are never read."""
    return None if total is None else QueueView(gpu_type=gpu_type, total=total, entries={})


def _moment(epoch: float | None):
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch is not None else None


def _prediction(entry: list | None) -> dict | None:
    if entry is None:
        return None
    runtime_s, low_s, high_s, basis, runs = entry
    return {"runtime_s": runtime_s, "low_s": low_s, "high_s": high_s, "basis": basis, "runs": runs}


UNKNOWN = {"estimated_start_earliest": None, "estimated_start_latest": None, "predicted_runtime": None}


def queue_entry(job, view: QueueView | None = None) -> dict | None:
    """{"queue_position", "estimated_start" with its earliest and latest, "wait_reason",
    "predicted_runtime"} for a queued job, from the last cycle."""
    if view is None:
        view = QueueView.objects.filter(gpu_type=job.gpu_type).first()
    if view is None:
        return None
    entry = view.entries.get(str(job.public_id))
    if entry is None:
        return {
            **UNKNOWN,
            "queue_position": None,
            "estimated_start": None,
            "wait_reason": str(
                _("Waiting for the next scheduling cycle (more than {count} jobs queued).").format(
                    count=ENTRIES_PER_TYPE
                )
                if view.total > ENTRIES_PER_TYPE
                else _("Waiting for the next scheduling cycle.")
            ),
        }
    position, estimate, reason, *ranged = entry
    low, high, prediction = (ranged + [None, None, None])[:3]  # views stored before ranges have none
    return {
        "queue_position": position,
        "estimated_start": _moment(estimate),
        "estimated_start_earliest": _moment(low),
        "estimated_start_latest": _moment(high),
        "wait_reason": reason_text(WaitReason(reason), job.gpu_type),
        "predicted_runtime": _prediction(prediction),
    }
