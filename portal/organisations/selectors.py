"""Who belongs where, and which organisations a user may see."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import QuerySet

from portal.organisations.models import Membership, MembershipRole, Organisation

# user pk → organisation ids, while memberships_read_once() is active (None: read every time).
_memberships_read: ContextVar[dict[int, frozenset[int]] | None] = ContextVar("memberships_read", default=None)


@contextmanager
def memberships_read_once(already_read: dict[int, frozenset[int]] | None = None) -> Iterator[None]:
    """Within the block, each user's memberships are read from the database once.

    For one request that checks access several times and changes no membership (a job submission asks
    in its allocation lookup and again in the service). Outside such a block every call reads afresh, so
    nothing long-lived can keep a membership that has since been removed. ``already_read`` (user pk →
    organisation ids) gives memberships this request has read already (the submit view reads them with
    the API key: organisation_ids_subquery).
    """
    token = _memberships_read.set(dict(already_read or {}))
    try:
        yield
    finally:
        _memberships_read.reset(token)


def organisation_ids_of(user) -> set[int]:
    if not getattr(user, "is_authenticated", False):
        return set()
    read = _memberships_read.get()
    if read is not None and user.pk in read:
        return set(read[user.pk])
    ids = set(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))
    if read is not None:
        read[user.pk] = frozenset(ids)
    return ids


def organisation_ids_subquery(user_id) -> ArraySubquery:
    """The ids of the organisations of the user ``user_id`` (an OuterRef), as an array: read with another
    row in the same query (PostgreSQL only)."""
    return ArraySubquery(Membership.objects.filter(user_id=user_id).values("organisation_id"))


def organisations_visible_to(user) -> QuerySet[Organisation]:
    if not getattr(user, "is_authenticated", False):
        return Organisation.objects.none()
    if user.is_staff:
        return Organisation.objects.all()
    return Organisation.objects.filter(memberships__user=user).distinct()


def membership_of(user, organisation) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(user=user, organisation=organisation).first()


def can_manage(user, organisation) -> bool:
    membership = membership_of(user, organisation)
    return membership is not None and membership.can_manage


def owners_and_managers(organisation) -> list:
    return [
        m.user
        for m in organisation.memberships.select_related("user").filter(
            role__in=[MembershipRole.OWNER, MembershipRole.MANAGER]
        )
    ]
