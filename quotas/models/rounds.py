"""A call's allocation round and what follows an award from it: the proposal's lines, the agreement an
organisation's owner accepts, stages, monthly usage checks, reclaims, misuse reports and outcomes
(docs/programme.md)."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from quotas.models.allocations import Allocation


class RoundState(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    APPROVED = "approved", _("Approved")


class AllocationRound(models.Model):
    """The round of one call: proposed from the ranking, adjusted by staff, approved once."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    call = models.OneToOneField("calls.Call", on_delete=models.PROTECT, related_name="round")
    state = models.CharField(max_length=16, choices=RoundState.choices, default=RoundState.PROPOSED)
    # What the proposal was computed from (levers, pools, ranking) and its digest: same inputs, same digest.
    inputs = models.JSONField(default=dict)
    inputs_digest = models.CharField(max_length=64)
    proposed_at = models.DateTimeField(default=timezone.now)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"Round of {self.call}"


class LineDecision(models.TextChoices):
    AWARD = "award", _("Award")
    WAITLIST = "waitlist", _("Waitlist")


class LineOutcome(models.TextChoices):
    PENDING = "", _("Not approved yet")
    AWARDED = "awarded", _("Awarded")
    WAITLISTED = "waitlisted", _("Waitlisted")
    OFFERED = "offered", _("Offered from the waitlist")


class RoundLine(models.Model):
    """One application's line in the round: its rank, the proposal and why, staff's adjustment."""

    round = models.ForeignKey(AllocationRound, on_delete=models.CASCADE, related_name="lines")
    application = models.OneToOneField(
        "applications.Application", on_delete=models.PROTECT, related_name="round_line"
    )
    position = models.PositiveIntegerField()
    score = models.FloatField()
    gpu_type = models.CharField(max_length=16)
    asked_gpu_hours = models.PositiveIntegerField()
    proposed_decision = models.CharField(max_length=8, choices=LineDecision.choices)
    proposed_gpu_hours = models.PositiveIntegerField()
    reason = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    # What staff made of it (the proposal's until adjusted).
    decision = models.CharField(max_length=8, choices=LineDecision.choices)
    gpu_hours = models.PositiveIntegerField()
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    adjusted_at = models.DateTimeField(null=True, blank=True)
    adjustment_reason = models.TextField(blank=True, max_length=2000)
    outcome = models.CharField(
        max_length=16, choices=LineOutcome.choices, default=LineOutcome.PENDING, blank=True
    )

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.position}. {self.application}"


class AgreementState(models.TextChoices):
    PENDING = "pending", _("Awaiting acceptance")
    ACCEPTED = "accepted", _("Accepted")
    LAPSED = "lapsed", _("Lapsed")


class Agreement(models.Model):
    """The terms an award's organisation owner must accept before the award becomes active."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    allocation = models.OneToOneField(Allocation, on_delete=models.PROTECT, related_name="agreement")
    terms_version = models.CharField(max_length=40)
    terms_sha256 = models.CharField(max_length=64)
    deadline = models.DateTimeField()
    state = models.CharField(max_length=16, choices=AgreementState.choices, default=AgreementState.PENDING)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_from = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Agreement for {self.allocation}"


class StageState(models.TextChoices):
    RELEASED = "released", _("Released")
    PENDING = "pending", _("Awaiting the mid-term report")
    REPORTED = "reported", _("Report submitted, awaiting evaluation")
    RETURNED = "returned", _("Returned to the pool")


class AllocationStage(models.Model):
    """One stage of a staged award; the first is released at once, each later one after evaluation."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="stages")
    number = models.PositiveSmallIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    gpu_type = models.CharField(max_length=16)
    gpu_hours = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=StageState.choices)
    report = models.TextField(blank=True, max_length=10000, help_text="The previous stage's mid-term report.")
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(null=True, blank=True)
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evaluated_at = models.DateTimeField(null=True, blank=True)
    evaluation = models.TextField(blank=True, max_length=4000)

    class Meta:
        ordering = ["allocation", "number"]
        constraints = [models.UniqueConstraint(fields=["allocation", "number"], name="one_stage_number")]

    def __str__(self) -> str:
        return f"{self.allocation}: stage {self.number}"


class UsageCheckAction(models.TextChoices):
    ON_PLAN = "on_plan", _("On plan")
    WARNED = "warned", _("Warned")
    RECLAIM_PROPOSED = "reclaim_proposed", _("Reclaim proposed")


class UsageCheck(models.Model):
    """An award's use against its plan at one month's check (one per award and month)."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="usage_checks")
    month = models.DateField(help_text="The first day of the month checked.")
    planned_gpu_hours = models.FloatField()
    used_gpu_hours = models.FloatField()
    action = models.CharField(max_length=20, choices=UsageCheckAction.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["allocation", "month"], name="one_check_per_month")]

    def __str__(self) -> str:
        return f"{self.allocation} {self.month:%Y-%m}: {self.action}"


class ReclaimState(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACCEPTED = "accepted", _("Reclaimed")
    DISMISSED = "dismissed", _("Dismissed")


class Reclaim(models.Model):
    """A proposed reclaim of an award's unused GPU-hours, reviewed by staff."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="reclaims")
    gpu_type = models.CharField(max_length=16)
    gpu_hours = models.PositiveIntegerField(help_text="Unused GPU-hours proposed for return to the pool.")
    state = models.CharField(max_length=16, choices=ReclaimState.choices, default=ReclaimState.PROPOSED)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Reclaim of {self.gpu_hours} {self.gpu_type} GPU-hours from {self.allocation}"


class MisuseKind(models.TextChoices):
    COMMERCIAL_RESALE = "commercial_resale", _("Commercial resale or use")
    ACCOUNT_SHARING = "account_sharing", _("Sharing access outside the organisation")
    OFF_PURPOSE = "off_purpose", _("Use outside the awarded project")
    OTHER = "other", _("Other")


class MisuseReport(models.Model):
    """A report of misuse; filing it suspends the award until staff decide."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="misuse_reports")
    kind = models.CharField(max_length=24, choices=MisuseKind.choices)
    description = models.TextField(max_length=4000)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} report on {self.allocation}"


COUNT = [MinValueValidator(0), MaxValueValidator(100_000)]


class OutcomeReport(models.Model):
    """What an award produced, reported by its organisation at a stage's end (stage) or the award's (none)."""

    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="outcomes")
    stage = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Blank: the award's end.")
    publications = models.PositiveIntegerField(default=0, validators=COUNT)
    patents = models.PositiveIntegerField(default=0, validators=COUNT)
    products = models.PositiveIntegerField(default=0, validators=COUNT, help_text="Products or services.")
    models_released = models.PositiveIntegerField(default=0, validators=COUNT)
    datasets_released = models.PositiveIntegerField(default=0, validators=COUNT)
    follow_on_investment_krw = models.PositiveBigIntegerField(default=0)
    hires = models.PositiveIntegerField(default=0, validators=COUNT)
    satisfaction = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    would_apply_again = models.BooleanField()
    comment = models.TextField(blank=True, max_length=4000)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["allocation", "stage"]
        constraints = [
            models.UniqueConstraint(fields=["allocation", "stage"], name="one_outcome_per_stage"),
            models.UniqueConstraint(
                fields=["allocation"], condition=models.Q(stage__isnull=True), name="one_final_outcome"
            ),
        ]

    def __str__(self) -> str:
        return f"Outcomes of {self.allocation} (stage {self.stage or 'final'})"
