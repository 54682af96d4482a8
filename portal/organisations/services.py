"""Creating organisations, verifying them, and managing their members (by invitation)."""

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import User
from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify, notify_address
from portal.organisations.models import Invitation, Membership, MembershipRole, Organisation, OrganisationType
from portal.organisations.selectors import membership_of, owners_and_managers
from portal.providers.models import Region

REGISTRATION_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{3,39}$")


def organisation_create(
    *, creator: User, name: str, org_type: str, registration_number: str, region: str = ""
) -> Organisation:
    """Register an organisation with ``creator`` as its owner. ``region`` may be blank (not stated): the
    portal's form asks for it, the API and older rows may leave it out (counted as the capital area)."""
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
    if region not in ("", *Region.values):
        errors["region"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Region.values)}]
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
                name=name, org_type=org_type, registration_number=registration_number, region=region
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


INVITATION_VALID_FOR = timedelta(days=14)


def invitation_url(token: str) -> str:
    return f"{settings.PORTAL_BASE_URL}{reverse('web:invitation', kwargs={'token': token})}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def membership_invite(
    *, organisation: Organisation, actor: User, email: str, role: str = MembershipRole.MEMBER
) -> Invitation:
    """Invite ``email`` to join as ``role``; the person joins by accepting through the emailed link.

    Answers the same whether or not an account uses the address (it never says which), and does the
    same work either way: one invitation row, one audit event, one queued email. Inviting an address
    again replaces its open invitation (a new link, the new role).
    """
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
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            _("Invalid email."), fields={"email": [_("Enter a valid email address.")]}
        ) from None
    # Members are listed to whoever may invite, so saying so tells them nothing new.
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise Conflict(_("Already a member."), fields={"email": [_("This person is already a member.")]})
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        invitation, _created = Invitation.objects.update_or_create(
            organisation=organisation,
            email=email,
            accepted_at=None,
            defaults={
                "role": role,
                "invited_by": actor,
                "token_hash": _digest(token),
                "created_at": now,
                "expires_at": now + INVITATION_VALID_FOR,
            },
        )
        audit_record(
            actor=actor, target=organisation, action="member_invited", data={"email": email, "role": role}
        )
        subject = format_lazy(
            gettext_lazy("{actor} invited you to join {name} on gpugrant"),
            actor=actor.display_name,
            name=organisation.name,
        )
        body = format_lazy(
            gettext_lazy(
                "{actor} invited you to join {name} as {role} on gpugrant, the national GPU allocation "
                "service. To accept, open this link within {days} days:\n\n{url}\n\n"
                "You will be asked to log in with this address, or to create an account with it if you "
                "have none. If you were not expecting this invitation, ignore this email."
            ),
            actor=actor.display_name,
            name=organisation.name,
            # the lazy label, so that the role is named in the recipient's language
            role=MembershipRole(role).label,
            days=INVITATION_VALID_FOR.days,
            url=invitation_url(token),
        )
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is not None:
            notify(recipients=[user], subject=subject, body=body)
        else:
            # No account: written in the inviter's language, the best guess for a colleague's.
            notify_address(email=email, language=actor.preferred_language, subject=subject, body=body)
    return invitation


def invitation_by_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("organisation", "invited_by")
        .filter(token_hash=_digest(token or ""))
        .first()
    )


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The invited person, signed in with the invited address, joins with the invited role."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().select_related("organisation").get(pk=invitation.pk)
        )
        if invitation.accepted_at is not None:
            raise Conflict(_("This invitation has been used already."), code="invitation_used")
        if invitation.expires_at <= timezone.now():
            raise Conflict(_("This invitation has expired; ask for a new one."), code="invitation_expired")
        if user.email.lower() != invitation.email:
            raise NotAllowed(_("This invitation is for another email address."))
        organisation = invitation.organisation
        membership, created = Membership.objects.get_or_create(
            organisation=organisation, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        if created:
            audit_record(
                actor=user,
                target=organisation,
                action="member_added",
                data={"user": user.email, "role": membership.role, "invitation": str(invitation.public_id)},
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
