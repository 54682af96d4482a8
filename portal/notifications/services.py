"""Queue notifications in the caller's transaction; they are sent by a task once it commits."""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise

from portal.notifications.models import Notification
from portal.notifications.tasks import notification_send

logger = logging.getLogger(__name__)


def notify(*, recipients: Iterable, subject: str | Promise, body: str | Promise) -> list[Notification]:
    """Subject and body are best lazy (gettext_lazy, format_lazy): each recipient's copy is then
    written in that recipient's language, not in the language of whoever caused the change."""
    unique = {user.pk: user for user in recipients if user is not None and user.is_active}
    created = []
    for user in unique.values():
        with translation.override(user.preferred_language):
            text_subject, text_body = str(subject), str(body)
        created.append(
            Notification.objects.create(recipient=user, subject=text_subject[:200], body=text_body)
        )
    if created:
        ids = [n.pk for n in created]
        transaction.on_commit(lambda: _enqueue(ids))
    return created


def notify_address(*, email: str, language: str, subject: str | Promise, body: str | Promise) -> Notification:
    """The same for an address no account uses (yet): written in ``language``."""
    with translation.override(language or settings.LANGUAGE_CODE):
        text_subject, text_body = str(subject), str(body)
    notification = Notification.objects.create(to_email=email, subject=text_subject[:200], body=text_body)
    transaction.on_commit(lambda: _enqueue([notification.pk]))
    return notification


def _enqueue(ids: list[int]) -> None:
    for notification_id in ids:
        try:
            notification_send.delay(notification_id)
        except Exception:  # noqa: BLE001 - the broker may be down; the periodic resend picks it up
            logger.warning("could not enqueue notification %s", notification_id)
