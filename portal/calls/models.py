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
