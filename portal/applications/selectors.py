"""Which applications and reviews a user may see."""

from django.db.models import Q, QuerySet

from portal.applications.models import Application, Review
from portal.organisations.selectors import organisation_ids_of


def applications_visible_to(user) -> QuerySet[Application]:
    """Staff see all; members see their organisations'; reviewers also see what they are assigned."""
    base = Application.objects.select_related(
        "call", "organisation", "created_by", "allocation"
    ).prefetch_related("gpu_requests")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if user.is_staff:
        return base
    visible = Q(organisation_id__in=organisation_ids_of(user))
    if user.is_reviewer:
        visible |= Q(reviews__reviewer=user)
    return base.filter(visible).distinct()


def application_is_member_visible(user, application) -> bool:
    return application.organisation_id in organisation_ids_of(user)


def reviews_for_reviewer(user) -> QuerySet[Review]:
    if not getattr(user, "is_authenticated", False):
        return Review.objects.none()
    return Review.objects.select_related(
        "application", "application__organisation", "application__call"
    ).filter(reviewer=user)


def reviews_visible_on(application, user) -> QuerySet[Review]:
    """Staff see every review; reviewers their own; applicants see only submitted ones (public part)."""
    reviews = application.reviews.select_related("reviewer")
    if user.is_staff:
        return reviews
    if application.organisation_id in organisation_ids_of(user):
        return reviews.filter(submitted_at__isnull=False)
    return reviews.filter(reviewer=user)


def current_round_reviews(application) -> QuerySet[Review]:
    return application.reviews.filter(round=application.review_round)
