"""Sending queued notifications by email. Idempotent: a sent notification is never sent again."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from portal.notifications.models import Notification


@shared_task(acks_late=True, reject_on_worker_lost=True)
def notification_send(notification_id: int) -> bool:
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if notification is None or notification.sent_at is not None:
        return False
    Notification.objects.filter(pk=notification_id).update(attempts=F("attempts") + 1)
    send_mail(
        subject=f"[gpugrant] {notification.subject}",
        message=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[notification.address],
    )
    # Only the first sender to mark it wins; a duplicate delivery of this task sends nothing more.
    return bool(Notification.objects.filter(pk=notification_id, sent_at=None).update(sent_at=timezone.now()))


@shared_task
def notifications_resend_pending(max_attempts: int = 10) -> int:
    cutoff = timezone.now() - timedelta(minutes=1)
    pending = Notification.objects.filter(sent_at=None, created_at__lt=cutoff, attempts__lt=max_attempts)
    ids = list(pending.values_list("pk", flat=True)[:500])
    for notification_id in ids:
        notification_send.delay(notification_id)
    return len(ids)
