"""Calls for applications; each offers pools of GPU-hours (see quotas.CallPool)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Call(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    eligible_org_types = models.JSONField(default=list, help_text="Organisation types that may apply.")
    allocation_start = models.DateField(help_text="Earliest start of an allocation from this call.")
    allocation_end = models.DateField(help_text="Latest end of an allocation from this call.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # How the panel's criteria weigh in the ranking (criterion → weight; empty: all alike). docs/programme.md
    criteria_weights = models.JSONField(default=dict, blank=True)
    # The round's levers (docs/programme.md): shares of every track pool held for sectors (organisation
    # type → 0–1) and for organisations outside the capital area, bonus points for those, and the
    # concentration caps across an organisation's active awards.
    sector_shares = models.JSONField(default=dict, blank=True)
    regional_share = models.FloatField(default=0.0)
    regional_bonus = models.FloatField(default=0.0)
    max_gpu_hours_per_org = models.PositiveIntegerField(null=True, blank=True)
    max_awards_per_org = models.PositiveIntegerField(null=True, blank=True)
    # The agreement an organisation's owner accepts before an award from this call becomes active.
    agreement_terms = models.TextField(blank=True, max_length=20000)
    agreement_version = models.CharField(max_length=40, blank=True)
    agreement_days = models.PositiveIntegerField(default=14, help_text="Days to accept before it lapses.")
    # Monthly monitoring: an award that used less than this share of its plan is warned, then reclaimed.
    reclaim_threshold = models.FloatField(default=0.5)

    class Meta:
        ordering = ["-opens_at"]

    def __str__(self) -> str:
        return self.title

    def is_open(self, at=None) -> bool:
        at = at or timezone.now()
        return self.opens_at <= at < self.closes_at

    @property
    def status(self) -> str:
        now = timezone.now()
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"


class Track(models.Model):
    """A track of a call (e.g. 1–4 GPUs, or whole servers of 8): its own pools, GPU range and duration."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="tracks")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=200)
    min_gpus = models.PositiveIntegerField()
    max_gpus = models.PositiveIntegerField()
    max_days = models.PositiveIntegerField(help_text="Longest allocation period in this track.")
    # Stages in months (e.g. [5, 5]): the next stage's GPU-hours are released after a mid-term
    # evaluation. Empty: one stage.
    stage_months = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["min_gpus", "code"]
        constraints = [models.UniqueConstraint(fields=["call", "code"], name="one_track_code_per_call")]

    def __str__(self) -> str:
        return f"{self.call}: {self.name}"


class TrackPool(models.Model):
    """GPU-hours of one GPU type a track may award in a round (the tracks share the call's pool)."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="pools")
    gpu_type = models.CharField(max_length=16)
    gpu_hours = models.PositiveIntegerField()

    class Meta:
        ordering = ["gpu_type"]
        constraints = [
            models.UniqueConstraint(fields=["track", "gpu_type"], name="one_track_pool_per_gpu_type")
        ]

    def __str__(self) -> str:
        return f"{self.track}: {self.gpu_hours} {self.gpu_type} GPU-hours"
