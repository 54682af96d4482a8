"""Reads that only the portal's pages need: dashboards, queues and pick-lists."""

from django.db.models import Count, F, Q, QuerySet

from portal.accounts.models import User
from portal.applications.models import Application, Review
from portal.applications.selectors import applications_visible_to, current_round_reviews, reviews_for_reviewer
from portal.applications.states import State
from portal.organisations.models import Membership, Organisation
from portal.organisations.selectors import organisation_ids_of
from quotas.models import AllocationStatus
from quotas.selectors import allocations_visible_to
from scheduler.models import Job
from scheduler.selectors import jobs_queue_facts, jobs_visible_to, sessions_visible_to
from scheduler.states import JobState

AWAITING_ASSIGNMENT = (State.SUBMITTED, State.RESUBMITTED)


def memberships_of(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organisation").order_by("organisation__name")


def organisations_of(user) -> QuerySet[Organisation]:
    """Organisations ``user`` belongs to (staff rights aside): those they may apply for."""
    return Organisation.objects.filter(memberships__user=user).order_by("name")


def own_applications(user) -> QuerySet[Application]:
    """Applications of ``user``'s own organisations, not those visible through staff or reviewer rights."""
    return applications_visible_to(user).filter(organisation_id__in=organisation_ids_of(user))


def own_allocations(user):
    return allocations_visible_to(user).filter(organisation_id__in=organisation_ids_of(user))


def pending_reviews_for(user) -> QuerySet[Review]:
    """Assignments still waiting for ``user``'s scores in an open review round."""
    return reviews_for_reviewer(user).filter(
        submitted_at__isnull=True, application__state=State.UNDER_REVIEW, round=F("application__review_round")
    )


def review_queue_for(user) -> list[Review]:
    """All of ``user``'s assignments, those still waiting for scores first."""
    pending = set(pending_reviews_for(user).values_list("pk", flat=True))
    reviews = list(reviews_for_reviewer(user).order_by("-assigned_at"))
    return sorted(reviews, key=lambda review: review.pk not in pending)


def review_is_open(review: Review) -> bool:
    application = review.application
    return application.state == State.UNDER_REVIEW and review.round == application.review_round


def reviewer_candidates(application: Application) -> QuerySet[User]:
    """Active reviewers who may be assigned: not members of the applicant, not already assigned this round."""
    assigned = current_round_reviews(application).values_list("reviewer_id", flat=True)
    return (
        User.objects.filter(is_reviewer=True, is_active=True)
        .exclude(memberships__organisation_id=application.organisation_id)
        .exclude(pk__in=assigned)
        .order_by("full_name", "email")
    )


def applications_awaiting_assignment() -> QuerySet[Application]:
    return applications_visible_to_staff().filter(state__in=AWAITING_ASSIGNMENT).order_by("submitted_at")


def applications_under_review() -> QuerySet[Application]:
    """Applications under review, with how many of this round's reviews are assigned and submitted."""
    this_round = Q(reviews__round=F("review_round"))
    return (
        applications_visible_to_staff()
        .filter(state=State.UNDER_REVIEW)
        .annotate(
            reviews_assigned=Count("reviews", filter=this_round),
            reviews_submitted=Count("reviews", filter=this_round & Q(reviews__submitted_at__isnull=False)),
        )
        .order_by("submitted_at")
    )


def applications_visible_to_staff() -> QuerySet[Application]:
    return Application.objects.select_related("call", "organisation", "created_by")


def organisations_awaiting_verification() -> QuerySet[Organisation]:
    return Organisation.objects.filter(verified=False).order_by("created_at")


CURRENT_JOB_STATES = (JobState.QUEUED, JobState.SCHEDULED, JobState.RUNNING)


def submittable_allocations(user):
    """Active allocations of ``user``'s own organisations: those they may submit jobs against."""
    return (
        own_allocations(user).filter(status=AllocationStatus.ACTIVE).order_by("project_title", "created_at")
    )


def own_current_jobs(user) -> QuerySet[Job]:
    """Queued, starting and running jobs of ``user``'s own organisations (staff rights aside), newest first."""
    return (
        jobs_visible_to(user)
        .filter(organisation_id__in=organisation_ids_of(user), state__in=CURRENT_JOB_STATES)
        .order_by("-submitted_at", "-pk")
    )


def job_rows(jobs) -> list[dict]:
    """Each job with its queue facts (position, estimated start, wait reason) when it is queued."""
    jobs = list(jobs)
    facts = jobs_queue_facts(jobs)
    return [{"job": job, "facts": facts[job.pk] if job.state == JobState.QUEUED else None} for job in jobs]


def own_sessions(user) -> QuerySet[Job]:
    """Sessions of ``user``'s own organisations (staff rights aside), newest first."""
    return (
        sessions_visible_to(user)
        .filter(organisation_id__in=organisation_ids_of(user))
        .select_related("allocation", "created_by")
    )
