"""RabbitMQ and PostgreSQL out of reach for a while, then back, behind a proxy only this test's processes use.

The web server (gunicorn) and a Celery worker with beat connect through TcpProxy; cutting it is what they
would see if the server died (connections reset, new ones refused). Nothing but the proxy is touched.
"""

import os
import uuid

import pytest

from portal.accounts.services import api_key_create
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from scheduler.states import JobState
from tests.reliability.api_client import Client, job_body
from tests.reliability.invariants import assert_invariants, unfinished
from tests.reliability.proxy import TcpProxy
from tests.reliability.stack import Stack, address_of, wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.rabbitmq,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def proxies():
    with (
        TcpProxy(*address_of(os.environ["DATABASE_URL"])) as database,
        TcpProxy(*address_of(os.environ["CELERY_BROKER_URL"])) as broker,
    ):
        yield database, broker


@pytest.fixture
def stack(tmp_path, proxies):
    database, broker = proxies
    running = Stack(tmp_path, database_port=database.port, broker_port=broker.port)
    yield running
    running.close()


@pytest.fixture
def running(stack, local_backend, owner, allocation):
    """gunicorn and a worker with beat, both through the proxies; returns (client, worker, web)."""
    _, key = api_key_create(user=owner)
    web, url = stack.start_web()
    worker = stack.start_worker(beat=True)
    return Client(url, key), worker, web


def submit(client, allocation, name: str) -> str:
    key = f"{name}-{uuid.uuid4().hex}"
    status, _, body = client.post_job(job_body(allocation, name), key)
    assert status == 201, body
    return key


def all_succeeded(backend, worker):
    def check():
        reconcile_jobs(backend=backend)  # the worker's beat reconciles too; this only shortens the wait
        return not unfinished()

    wait_until(check, f"every job to end (left: {unfinished()})", timeout=120, process=worker)
    assert set(Job.objects.values_list("state", flat=True)) == {JobState.SUCCEEDED}


def test_it_accepts_submissions_during_a_broker_outage_and_runs_them_once_it_is_back(
    proxies, stack, running, local_backend, allocation
):
    _, broker = proxies
    client, worker, web = running
    keys = [submit(client, allocation, "before")]
    all_succeeded(local_backend, worker)

    broker.cut()
    # The job row is the outbox: admission commits it; only the request for a cycle fails (and is logged).
    keys += [submit(client, allocation, f"during-{n}") for n in range(3)]
    assert Job.objects.filter(state=JobState.QUEUED).count() == 3
    wait_until(
        lambda: "Connection to broker lost" in stack.log(worker), "the worker to notice", process=worker
    )
    broker.restore()

    all_succeeded(local_backend, worker)  # the worker and beat reconnect by themselves
    assert worker.poll() is None and web.poll() is None
    assert_nothing_half_written_after_run(keys)


def test_it_fails_submissions_cleanly_during_a_database_outage_and_catches_up(
    proxies, stack, running, local_backend, allocation
):
    database, _ = proxies
    client, worker, web = running
    keys = [submit(client, allocation, "before")]
    all_succeeded(local_backend, worker)

    database.cut()
    key, body = f"during-{uuid.uuid4().hex}", job_body(allocation, "during")
    for _ in range(3):
        status, headers, answer = client.post_job(body, key)
        assert status == 503, answer
        assert answer["code"] == "service_unavailable" and int(headers["Retry-After"]) > 0
    assert Job.objects.count() == 1  # nothing was written
    wait_until(
        lambda: "OperationalError" in stack.log(worker), "a cycle to fail on the outage", process=worker
    )
    database.restore()

    status, _, answer = wait_until(
        lambda: (reply := client.post_job(body, key)) and reply[0] != 503 and reply, "the database to be back"
    )
    assert status == 201, answer
    keys.append(key)
    all_succeeded(local_backend, worker)  # beat's cycles failed meanwhile; the worker carried on by itself
    assert worker.poll() is None and web.poll() is None
    assert_nothing_half_written_after_run(keys)


def assert_nothing_half_written_after_run(keys: list[str]) -> None:
    assert sorted(Job.objects.values_list("name", flat=True)) == sorted(k.rsplit("-", 1)[0] for k in keys)
    assert_invariants()
