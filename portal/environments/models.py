import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Environment(models.Model):
    """A container environment staff offer for jobs, picked by its ``name`` instead of an image."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(
        max_length=64, unique=True, help_text=_("Short name users give, e.g. pytorch-2.5-cuda12.4")
    )
    display_name = models.CharField(max_length=100)
    for_training = models.BooleanField(default=True)
    for_inference = models.BooleanField(default=False)
    # Has JupyterLab: offered for interactive sessions (docs/sessions.md).
    for_sessions = models.BooleanField(default=False)
    image = models.CharField(max_length=300)
    cuda_version = models.CharField(max_length=16)
    description = models.CharField(max_length=500, blank=True)
    description_ko = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def kinds(self) -> list[str]:
        return [
            kind
            for kind, suits in (
                ("training", self.for_training),
                ("inference", self.for_inference),
                ("interactive", self.for_sessions),
            )
            if suits
        ]
