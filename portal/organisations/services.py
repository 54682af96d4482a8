"""Creating organisations, verifying them, and managing their members."""

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.models import Membership, MembershipRole, Organisation, OrganisationType
from portal.organisations.selectors import membership_of, owners_and_managers

REGISTRATION_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{3,39}$")


def organisation_create(*, creator: User, name: str, org_type: str, registration_number: str) -> Organisation:
    name = (name or "").strip()
    registration_number = (registration_number or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["This field is required."]
    elif len(name) > 200:
        errors["name"] = ["At most 200 characters."]
    if org_type not in OrganisationType.values:
        errors["org_type"] = [f"Choose one of: {', '.join(OrganisationType.values)}."]
    if not REGISTRATION_NUMBER.match(registration_number):
        errors["registration_number"] = ["4–40 letters, digits or dashes, e.g. 123-45-67890."]
    elif Organisation.objects.filter(registration_number__iexact=registration_number).exists():
        errors["registration_number"] = [
            "An organisation with this registration number is already registered."
        ]
    if errors:
        raise InvalidInput("The organisation could not be created.", fields=errors)
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(
                name=name, org_type=org_type, registration_number=registration_number
            )
            Membership.objects.create(organisation=organisation, user=creator, role=MembershipRole.OWNER)
            audit_record(actor=creator, target=organisation, action="organisation_created")
    except IntegrityError as exc:
        raise InvalidInput(
            "The organisation could not be created.",
            fields={"registration_number": ["Already registered."]},
        ) from exc
    return organisation


def organisation_verify(
    *, organisation: Organisation, staff: User, verified: bool = True, reason: str = ""
) -> Organisation:
    if not staff.is_staff:
        raise NotAllowed("Only staff verify organisations.")
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if organisation.verified == verified:
            return organisation
        previous = "verified" if organisation.verified else "unverified"
        organisation.verified = verified
        organisation.verified_at = timezone.now() if verified else None
        organisation.verified_by = staff if verified else None
        organisation.save(update_fields=["verified", "verified_at", "verified_by"])
        audit_record(
            actor=staff,
            target=organisation,
            action="organisation_verified" if verified else "organisation_unverified",
            from_state=previous,
            to_state="verified" if verified else "unverified",
            reason=reason,
        )
        notify(
            recipients=owners_and_managers(organisation),
            subject=f"{organisation.name} is {'verified' if verified else 'no longer verified'}",
            body=(
                f"Programme staff marked {organisation.name} as {'verified' if verified else 'unverified'}."
                + (f"\n\nReason: {reason}" if reason else "")
            ),
        )
    return organisation


def membership_add(
    *, organisation: Organisation, actor: User, email: str, role: str = MembershipRole.MEMBER
) -> Membership:
    actor_membership = membership_of(actor, organisation)
    if actor_membership is None or not actor_membership.can_manage:
        raise NotAllowed("Only the organisation's owner or a manager can add members.")
    if role not in MembershipRole.values:
        raise InvalidInput(
            "Invalid role.", fields={"role": [f"Choose one of: {', '.join(MembershipRole.values)}."]}
        )
    if role != MembershipRole.MEMBER and actor_membership.role != MembershipRole.OWNER:
        raise NotAllowed("Only the owner can add owners or managers.")
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None:
        raise InvalidInput(
            "No such user.",
            fields={"email": ["No gpugrant account uses this email; ask them to sign up first."]},
        )
    with transaction.atomic():
        if Membership.objects.filter(organisation=organisation, user=user).exists():
            raise Conflict("Already a member.", fields={"email": ["This person is already a member."]})
        membership = Membership.objects.create(organisation=organisation, user=user, role=role)
        audit_record(
            actor=actor, target=organisation, action="member_added", data={"user": user.email, "role": role}
        )
        notify(
            recipients=[user],
            subject=f"You were added to {organisation.name}",
            body=f"{actor.display_name} added you to {organisation.name} as {membership.get_role_display()}.",
        )
    return membership


def membership_remove(*, membership: Membership, actor: User) -> None:
    organisation = membership.organisation
    actor_membership = membership_of(actor, organisation)
    if actor_membership is None or not actor_membership.can_manage:
        raise NotAllowed("Only the organisation's owner or a manager can remove members.")
    if membership.role != MembershipRole.MEMBER and actor_membership.role != MembershipRole.OWNER:
        raise NotAllowed("Only the owner can remove owners or managers.")
    with transaction.atomic():
        owners = Membership.objects.select_for_update().filter(
            organisation=organisation, role=MembershipRole.OWNER
        )
        if membership.role == MembershipRole.OWNER and owners.count() <= 1:
            raise Conflict("An organisation must keep at least one owner.")
        membership.delete()
        audit_record(
            actor=actor, target=organisation, action="member_removed", data={"user": membership.user.email}
        )
