"""Applications for GPU time (new projects and change requests) and their reviews."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.applications.states import State

LIMITS = settings.GPUGRANT_MAX_TEXT
MAX_CONCURRENT_GPUS = 4096


class ApplicationKind(models.TextChoices):
    NEW = "new", _("New project")
    CHANGE = "change", _("Change request")


class ResearchField(models.TextChoices):
    NLP = "nlp", _("Natural language processing")
    VISION = "vision", _("Computer vision")
    SPEECH = "speech", _("Speech and audio")
    SCIENCE = "science", _("Scientific computing")
    HEALTH = "health", _("Health and bio")
    ROBOTICS = "robotics", _("Robotics and autonomy")
    RECOMMENDATION = "recommendation", _("Recommendation and search")
    OTHER = "other", _("Other")


class Application(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=8, choices=ApplicationKind.choices, default=ApplicationKind.NEW)
    call = models.ForeignKey("calls.Call", on_delete=models.PROTECT, related_name="applications")
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="applications"
    )
    allocation = models.ForeignKey(
        "quotas.Allocation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="change_requests",
        help_text="For a change request: the allocation to extend or enlarge.",
    )
    track = models.ForeignKey(
        "calls.Track",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
        help_text="The call's track applied to (required where the call has tracks).",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    project_title = models.CharField(max_length=LIMITS["title"])
    summary = models.TextField(max_length=LIMITS["summary"])
    field = models.CharField(max_length=32, choices=ResearchField.choices)
    requested_start = models.DateField()
    requested_end = models.DateField()
    max_concurrent_gpus = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CONCURRENT_GPUS)]
    )
    justification = models.TextField(max_length=LIMITS["justification"])
    state = models.CharField(max_length=24, choices=[(s.value, s.value) for s in State], default=State.DRAFT)
    review_round = models.PositiveIntegerField(default=1)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True, max_length=LIMITS["reason"])
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return self.project_title

    @property
    def requested_gpu_hours_total(self) -> int:
        return sum(line.gpu_hours for line in self.gpu_requests.all())


class ApplicationGpuRequest(models.Model):
    """GPU-hours asked for one GPU type; for a change request, hours on top of the current award."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="gpu_requests")
    gpu_type = models.CharField(max_length=16)
    gpu_hours = models.PositiveIntegerField()
    awarded_gpu_hours = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["gpu_type"]
        constraints = [
            models.UniqueConstraint(fields=["application", "gpu_type"], name="one_request_per_gpu_type")
        ]

    def __str__(self) -> str:
        return f"{self.gpu_hours} {self.gpu_type} GPU-hours"


SCORE_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]
CRITERIA = ("technical_merit", "feasibility", "impact", "need_for_public_compute")


class Review(models.Model):
    """One reviewer's assignment to one application in one review round, and their scores."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    round = models.PositiveIntegerField(default=1)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    technical_merit = models.PositiveSmallIntegerField(null=True, blank=True, validators=SCORE_VALIDATORS)
    feasibility = models.PositiveSmallIntegerField(null=True, blank=True, validators=SCORE_VALIDATORS)
    impact = models.PositiveSmallIntegerField(null=True, blank=True, validators=SCORE_VALIDATORS)
    need_for_public_compute = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=SCORE_VALIDATORS
    )
    public_comment = models.TextField(
        blank=True, max_length=LIMITS["comment"], help_text="Shown to the applicant."
    )
    private_comment = models.TextField(blank=True, max_length=LIMITS["comment"], help_text="Staff only.")
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["application", "reviewer", "round"], name="one_review_per_round")
        ]

    def __str__(self) -> str:
        return f"Review of {self.application} by {self.reviewer}"

    @property
    def average_score(self) -> float | None:
        scores = [getattr(self, c) for c in CRITERIA]
        if any(s is None for s in scores):
            return None
        return sum(scores) / len(scores)
