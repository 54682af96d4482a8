"""Who belongs where, and which organisations a user may see."""

from django.db.models import QuerySet

from portal.organisations.models import Membership, MembershipRole, Organisation


def organisation_ids_of(user) -> set[int]:
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(Membership.objects.filter(user=user).values_list("organisation_id", flat=True))


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
