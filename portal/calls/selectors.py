"""Which calls a user can see and apply to."""

from django.db.models import QuerySet
from django.utils import timezone

from portal.calls.models import Call


def calls_visible_to(user) -> QuerySet[Call]:
    calls = Call.objects.prefetch_related("pools", "tracks__pools")
    if getattr(user, "is_staff", False):
        return calls
    # Applicants and reviewers see calls once they have opened; upcoming calls are staff drafts.
    return calls.filter(opens_at__lte=timezone.now())


def calls_open(at=None) -> QuerySet[Call]:
    at = at or timezone.now()
    return Call.objects.prefetch_related("pools", "tracks__pools").filter(opens_at__lte=at, closes_at__gt=at)
