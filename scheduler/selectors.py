"""Reading jobs: who may see which, and the queue facts users ask for."""

from django.db.models import QuerySet

from portal.organisations.selectors import organisation_ids_of
from scheduler.models import Job, JobEvent
from scheduler.queue_view import queue_entry
from scheduler.states import JobState


def jobs_visible_to(user) -> QuerySet[Job]:
    """Members see their organisations' jobs; staff see all."""
    base = Job.objects.select_related("allocation", "organisation", "created_by")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if user.is_staff:
        return base
    return base.filter(organisation_id__in=organisation_ids_of(user))


def job_queue_facts(job: Job) -> dict:
    """queue_position, estimated_start and wait_reason — only for queued jobs."""
    if job.state != JobState.QUEUED:
        return {"queue_position": None, "estimated_start": None, "wait_reason": ""}
    return queue_entry(job) or {
        "queue_position": None,
        "estimated_start": None,
        "wait_reason": "Waiting for the first scheduling cycle.",
    }


def job_events(job: Job) -> QuerySet[JobEvent]:
    return job.events.select_related("actor").order_by("created_at", "id")
