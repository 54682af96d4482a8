"""Applicant organisations and their members."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.providers.models import Region


class OrganisationType(models.TextChoices):
    SME = "sme", _("SME")
    STARTUP = "startup", _("Startup")
    UNIVERSITY = "university", _("University")
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")
    RESEARCH_INSTITUTE = "research_institute", _("Research institute")


class Organisation(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    org_type = models.CharField(max_length=32, choices=OrganisationType.choices)
    registration_number = models.CharField(
        max_length=40, unique=True, help_text="Business or institution registration number."
    )
    # Outside the capital area or not: a call may prefer non-capital organisations (docs/programme.md).
    # Blank (not stated) counts as the capital area: no preference without the fact behind it.
    region = models.CharField(max_length=16, blank=True, choices=Region.choices)
    verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner / PI")
    MANAGER = "manager", _("Manager")
    MEMBER = "member", _("Member")


class Membership(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=MembershipRole.choices, default=MembershipRole.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in (MembershipRole.OWNER, MembershipRole.MANAGER)


class Invitation(models.Model):
    """An owner's or manager's invitation of an email address to join, whether or not an account uses it.

    Adding a member always invites, so the answer never tells the inviter whether the address has an
    account; the person joins by accepting (signed in with that address) through the emailed link. Only
    a SHA-256 digest of the link's secret is kept.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()  # lower case
    role = models.CharField(max_length=16, choices=MembershipRole.choices, default=MembershipRole.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=models.Q(accepted_at__isnull=True),
                name="one_open_invitation_per_address",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.organisation} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()
