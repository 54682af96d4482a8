"""Outgoing notifications, written in the same transaction as the change they announce (an outbox)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Notification(models.Model):
    # A user, or (for someone with no account yet: a sign-up link, an invitation) a bare address.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    to_email = models.EmailField(blank=True, default="")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["sent_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(recipient__isnull=False, to_email="")
                | Q(recipient__isnull=True) & ~Q(to_email=""),
                name="notification_to_a_user_or_an_address",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.address}"

    @property
    def address(self) -> str:
        return self.recipient.email if self.recipient_id else self.to_email
