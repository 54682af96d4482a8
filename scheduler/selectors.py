"""Reading jobs: who may see which, and the queue facts users ask for."""

import uuid

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from portal.organisations.selectors import organisation_ids_of
from portal.prepared_queries import PreparedQuery
from quotas.models import Allocation
from quotas.selectors import allocation_visible_to, allocations_to_submit_against
from scheduler.models import Job, JobEvent, JobKind, JobStartEstimate
from scheduler.queue_view import UNKNOWN, queue_entry, queue_size, queue_views
from scheduler.states import JobState

NOT_QUEUED = {"queue_position": None, "estimated_start": None, "wait_reason": "", **UNKNOWN}
FIRST_CYCLE = {
    **UNKNOWN,
    "queue_position": None,
    "estimated_start": None,
    "wait_reason": gettext_lazy("Waiting for the first scheduling cycle."),
}


def _first_cycle() -> dict:
    # str() now: the facts are rendered in the language of the request that reads them
    return {**FIRST_CYCLE, "wait_reason": str(FIRST_CYCLE["wait_reason"])}


# Read with every submission: compiled once per process (portal/prepared_queries.py).
_ALLOCATION_TO_SUBMIT_AGAINST = PreparedQuery(
    lambda public_id, gpu_type: (
        allocations_to_submit_against().annotate(queue_total=queue_size(gpu_type)).filter(public_id=public_id)
    ),
    public_id=uuid.UUID(int=0x5EED),
    gpu_type="prepared:gpu_type",
)


def allocation_to_submit_against(user, public_id: uuid.UUID, gpu_type: str) -> Allocation | None:
    """The allocation ``public_id`` if ``user`` may see it — with its organisation, whether it pins jobs
    to providers (``pins_providers``) and the size of ``gpu_type``'s queue at the last cycle
    (``queue_total``, None where no cycle ran) — in one query; else None."""
    allocation = _ALLOCATION_TO_SUBMIT_AGAINST.first(public_id=public_id, gpu_type=gpu_type)
    return allocation if allocation is not None and allocation_visible_to(user, allocation) else None


def jobs_visible_to(user) -> QuerySet[Job]:
    """Members see their organisations' jobs; staff see all."""
    base = Job.objects.select_related(
        "allocation", "organisation", "created_by", "provider", "cluster__provider"
    )
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if user.is_staff:
        return base
    return base.filter(organisation_id__in=organisation_ids_of(user))


def sessions_visible_to(user) -> QuerySet[Job]:
    """Interactive sessions ``user`` may read (their organisations'; staff: all), newest first."""
    return (
        jobs_visible_to(user)
        .filter(kind=JobKind.INTERACTIVE)
        .select_related("session")
        .order_by("-submitted_at", "-pk")
    )


def job_queue_facts(job: Job, views: dict | None = None) -> dict:
    """queue_position, estimated_start and wait_reason — only for queued jobs.

    ``views`` (GPU type → QueueView, from ``queue_views``) saves a query per job when listing many.
    """
    if job.state != JobState.QUEUED:
        return dict(NOT_QUEUED)
    if views is None:
        return queue_entry(job) or _first_cycle()
    view = views.get(job.gpu_type)
    return (queue_entry(job, view) if view is not None else None) or _first_cycle()


def jobs_queue_facts(jobs) -> dict[int, dict]:
    """job pk → queue facts, reading each GPU type's queue view once."""
    jobs = list(jobs)
    views = queue_views(job.gpu_type for job in jobs if job.state == JobState.QUEUED)
    return {job.pk: job_queue_facts(job, views) for job in jobs}


def job_events(job: Job) -> QuerySet[JobEvent]:
    return job.events.select_related("actor").order_by("created_at", "id")


def job_start_estimates(job: Job, latest: int = 20) -> list[JobStartEstimate]:
    """The first estimated start the job was given and its latest changes, oldest first."""
    first = list(job.start_estimates.order_by("recorded_at", "id")[:1])
    recent = list(job.start_estimates.order_by("-recorded_at", "-id")[:latest])[::-1]
    return first + [estimate for estimate in recent if not first or estimate.pk != first[0].pk]
