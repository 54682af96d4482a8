"""Sending queued notifications: once each, retried by a periodic sweep, never twice."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal.notifications.models import Notification
from portal.notifications.services import notify
from portal.notifications.tasks import notification_send, notifications_resend_pending


def _notification(user, *, age=timedelta(0), sent=False, attempts=0, subject="Hello") -> Notification:
    now = timezone.now()
    return Notification.objects.create(
        recipient=user,
        subject=subject,
        body="Body text",
        created_at=now - age,
        sent_at=now if sent else None,
        attempts=attempts,
    )


@pytest.mark.django_db
def test_it_sends_a_notification_once(owner):
    notification = _notification(owner, subject="Your award")

    assert notification_send(notification.pk) is True
    assert notification_send(notification.pk) is False
    assert notification_send.delay(notification.pk).get() is False

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.subject, message.to, message.body) == (
        "[gpugrant] Your award",
        [owner.email],
        "Body text",
    )
    notification.refresh_from_db()
    assert notification.sent_at is not None
    assert notification.attempts == 1


@pytest.mark.django_db
def test_it_ignores_an_unknown_notification():
    assert notification_send(987654) is False
    assert mail.outbox == []


@pytest.mark.django_db
def test_it_resends_only_unsent_notifications_older_than_a_minute(owner, teammate):
    stale = _notification(owner, age=timedelta(minutes=5), subject="stale")
    _notification(owner, age=timedelta(seconds=20), subject="fresh")  # its own task may still be on the way
    _notification(owner, age=timedelta(minutes=5), sent=True, subject="already sent")
    _notification(teammate, age=timedelta(hours=2), attempts=10, subject="gave up")
    retry = _notification(teammate, age=timedelta(minutes=2), attempts=3, subject="retry")

    assert notifications_resend_pending() == 2

    assert sorted(m.subject for m in mail.outbox) == ["[gpugrant] retry", "[gpugrant] stale"]
    stale.refresh_from_db()
    retry.refresh_from_db()
    assert (stale.sent_at is not None, stale.attempts) == (True, 1)
    assert (retry.sent_at is not None, retry.attempts) == (True, 4)
    # The sweep is idempotent: everything it could send is sent.
    assert notifications_resend_pending() == 0
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_it_respects_a_custom_attempt_limit(owner):
    _notification(owner, age=timedelta(minutes=5), attempts=2)
    assert notifications_resend_pending(max_attempts=2) == 0
    assert notifications_resend_pending(max_attempts=3) == 1


@pytest.mark.django_db
def test_it_queues_one_notification_per_active_recipient(owner, teammate, outsider):
    outsider.is_active = False
    outsider.save()
    created = notify(recipients=[owner, teammate, owner, None, outsider], subject="S" * 300, body="b")
    assert sorted(n.recipient.email for n in created) == sorted([owner.email, teammate.email])
    assert {len(n.subject) for n in created} == {200}


@pytest.mark.django_db
def test_it_keeps_the_notification_when_the_broker_is_down(
    owner, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(notification_send, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        [notification] = notify(recipients=[owner], subject="Hi", body="b")
    notification.refresh_from_db()
    assert notification.sent_at is None  # still there for the periodic resend
    assert mail.outbox == []
