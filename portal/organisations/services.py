"""Creating organisations, verifying them, and managing their members."""

import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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
        errors["name"] = [_("This field is required.")]
    elif len(name) > 200:
        errors["name"] = [_("At most 200 characters.")]
    if org_type not in OrganisationType.values:
        errors["org_type"] = [
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(OrganisationType.values)}
        ]
    if not REGISTRATION_NUMBER.match(registration_number):
        errors["registration_number"] = ["4–40 letters, digits or dashes, e.g. 123-45-67890."]
    elif Organisation.objects.filter(registration_number__iexact=registration_number).exists():
        errors["registration_number"] = [
            _("An organisation with this registration number is already registered.")
        ]
    if errors:
        raise InvalidInput(_("The organisation could not be created."), fields=errors)
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(
                name=name, org_type=org_type, registration_number=registration_number
            )
            Membership.objects.create(organisation=organisation, user=creator, role=MembershipRole.OWNER)
            audit_record(actor=creator, target=organisation, action="organisation_created")
    except IntegrityError as exc:
        raise InvalidInput(
            _("The organisation could not be created."),
            fields={"registration_number": [_("Already registered.")]},
        ) from exc
    return organisation


def organisation_verify(
    *, organisation: Organisation, staff: User, verified: bool = True, reason: str = ""
) -> Organisation:
    if not staff.is_staff:
        raise NotAllowed(_("Only staff verify organisations."))
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
            subject=format_lazy(
                gettext_lazy("{name} is verified")
                if verified
                else gettext_lazy("{name} is no longer verified"),
                name=organisation.name,
            ),
            body=format_lazy(
                "{marked}{reason}",
                marked=format_lazy(
                    gettext_lazy("Programme staff marked {name} as verified.")
                    if verified
                    else gettext_lazy("Programme staff marked {name} as unverified."),
                    name=organisation.name,
                ),
                reason=format_lazy(gettext_lazy("\n\nReason: {reason}"), reason=reason) if reason else "",
            ),
        )
    return organisation


def membership_add(
    *, organisation: Organisation, actor: User, email: str, role: str = MembershipRole.MEMBER
) -> Membership:
    actor_membership = membership_of(actor, organisation)
    if actor_membership is None or not actor_membership.can_manage:
        raise NotAllowed(_("Only the organisation's owner or a manager can add members."))
    if role not in MembershipRole.values:
        raise InvalidInput(
            _("Invalid role."),
            fields={
                "role": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(MembershipRole.values)}]
            },
        )
    if role != MembershipRole.MEMBER and actor_membership.role != MembershipRole.OWNER:
        raise NotAllowed(_("Only the owner can add owners or managers."))
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None:
        raise InvalidInput(
            _("No such user."),
            fields={"email": [_("No gpugrant account uses this email; ask them to sign up first.")]},
        )
    with transaction.atomic():
        if Membership.objects.filter(organisation=organisation, user=user).exists():
            raise Conflict(_("Already a member."), fields={"email": [_("This person is already a member.")]})
        membership = Membership.objects.create(organisation=organisation, user=user, role=role)
        audit_record(
            actor=actor, target=organisation, action="member_added", data={"user": user.email, "role": role}
        )
        notify(
            recipients=[user],
            subject=format_lazy(gettext_lazy("You were added to {name}"), name=organisation.name),
            body=format_lazy(
                gettext_lazy("{actor} added you to {name} as {role}."),
                actor=actor.display_name,
                name=organisation.name,
                # the lazy label, so that the role is named in the recipient's language
                role=MembershipRole(membership.role).label,
            ),
        )
    return membership


def membership_remove(*, membership: Membership, actor: User) -> None:
    organisation = membership.organisation
    actor_membership = membership_of(actor, organisation)
    if actor_membership is None or not actor_membership.can_manage:
        raise NotAllowed(_("Only the organisation's owner or a manager can remove members."))
    if membership.role != MembershipRole.MEMBER and actor_membership.role != MembershipRole.OWNER:
        raise NotAllowed(_("Only the owner can remove owners or managers."))
    with transaction.atomic():
        owners = Membership.objects.select_for_update().filter(
            organisation=organisation, role=MembershipRole.OWNER
        )
        if membership.role == MembershipRole.OWNER and owners.count() <= 1:
            raise Conflict(_("An organisation must keep at least one owner."))
        membership.delete()
        audit_record(
            actor=actor, target=organisation, action="member_removed", data={"user": membership.user.email}
        )
