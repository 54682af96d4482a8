"""End to end through a real RabbitMQ broker: a transition commits, its notifications are queued on a
private queue, an in-process Celery worker consumes them and sends each email once."""

import threading
import time
import uuid

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import connection
from django.test import override_settings

from portal.applications import services
from portal.celery import app
from portal.notifications.models import Notification
from portal.notifications.tasks import notification_send
from tests import builders

pytestmark = [pytest.mark.rabbitmq, pytest.mark.django_db(transaction=True)]

DEADLINE_S = 30


def _forget_routing() -> None:
    # Celery caches the queue table on first use; drop it so this module's default queue takes effect.
    for name in ("queues", "default_queue", "router", "producer_pool"):
        app.amqp.__dict__.pop(name, None)


@pytest.fixture(scope="module")
def _broker_worker():
    """One in-process worker for this module, consuming only a queue of its own on the real broker."""
    queue = f"gpugrant-test-{uuid.uuid4().hex}"
    runs: list[dict] = []
    ran = threading.Condition()

    def record(sender=None, task_id=None, retval=None, **kwargs):
        request = sender.request
        connection.close()  # the worker thread's own connection; never leave it open behind the test
        with ran:
            runs.append(
                {
                    "task": sender.name,
                    "args": list(request.args or ()),
                    "eager": bool(request.is_eager),
                    "routing_key": (request.delivery_info or {}).get("routing_key"),
                    "result": retval,
                }
            )
            ran.notify_all()

    def wait_for_runs(count):
        with ran:
            assert ran.wait_for(lambda: len(runs) >= count, timeout=DEADLINE_S), f"only {len(runs)} tasks ran"
            return runs[:count]

    # The embedded worker runs kombu's blocking loop, which with a prefetch of one stalls ~10 s between
    # messages; a larger prefetch only speeds the test up; delivery and acknowledgement are unchanged.
    with override_settings(CELERY_TASK_DEFAULT_QUEUE=queue, CELERY_WORKER_PREFETCH_MULTIPLIER=4):
        _forget_routing()
        signals.task_postrun.connect(record, weak=False)
        try:
            with start_worker(
                app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=30
            ) as w:
                w.test_queue, w.test_runs, w.wait_for_runs = queue, runs, wait_for_runs
                yield w
        finally:
            signals.task_postrun.disconnect(record)
            with app.connection_for_write() as broker:
                broker.default_channel.queue_delete(queue)
            _forget_routing()


@pytest.fixture
def worker(_broker_worker, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # after conftest's autouse fixture turned it on
    assert (app.conf.task_always_eager, app.conf.task_default_queue) == (False, _broker_worker.test_queue)
    _broker_worker.test_runs.clear()
    return _broker_worker


def _wait_until_sent(ids) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while Notification.objects.filter(pk__in=ids, sent_at=None).exists():
        assert time.monotonic() < deadline, "the worker did not send the notifications in time"
        time.sleep(0.05)  # poll interval only; the bound is the deadline above


def test_it_delivers_transition_notifications_through_the_broker(owner, organisation, call, staff, worker):
    # The worker fixture comes last: until it turns eager mode off, what the other fixtures announced is
    # sent in-process, so the outbox below holds only what went through the broker.
    application = builders.make_application(owner, organisation, call)
    existing = set(Notification.objects.values_list("pk", flat=True))
    mail.outbox.clear()

    services.application_submit(application=application, user=owner)  # commits; on_commit enqueues

    new = Notification.objects.exclude(pk__in=existing)
    ids = sorted(new.values_list("pk", flat=True))
    assert sorted(new.values_list("recipient__email", flat=True)) == sorted([owner.email, staff.email])
    _wait_until_sent(ids)

    assert sorted(address for message in mail.outbox for address in message.to) == sorted(
        [owner.email, staff.email]
    )
    assert set(new.values_list("attempts", flat=True)) == {1}
    sends = [run for run in worker.test_runs if run["task"] == notification_send.name]
    assert sorted(run["args"][0] for run in sends) == ids
    # Consumed by the worker from this test's private queue, not run eagerly in the caller.
    assert {(run["eager"], run["routing_key"]) for run in sends} == {(False, worker.test_queue)}


def test_it_sends_a_redelivered_notification_only_once(owner, worker):
    [notification] = Notification.objects.bulk_create(
        [Notification(recipient=owner, subject="Twice queued", body="b")]
    )
    mail.outbox.clear()

    notification_send.delay(notification.pk)
    notification_send.delay(notification.pk)  # a duplicate delivery, as after a lost ack

    runs = worker.wait_for_runs(2)
    assert [(run["args"], run["eager"]) for run in runs] == [([notification.pk], False)] * 2
    assert sorted(run["result"] for run in runs) == [False, True]
    assert [message.subject for message in mail.outbox] == ["[gpugrant] Twice queued"]
    notification.refresh_from_db()
    assert notification.sent_at is not None
