"""A gunicorn worker killed (kill -9), or its PostgreSQL session dropped, at each SQL statement of a submission.

The client sees its connection reset (kill) or a 503 (drop) and retries with the same Idempotency-Key, as
clients are told to. gunicorn's master starts a new worker. Whatever the point: one job per key at the end,
never a 500, nothing half-written (a job without its hold, its event or its key), holds equal to the
queued jobs' holds.
"""

import uuid

import pytest

from portal.accounts.services import api_key_create
from quotas.models import AllocationBudget
from scheduler.models import Job, JobEvent, SubmissionKey
from tests.reliability.api_client import Client, job_body
from tests.reliability.conftest import sample
from tests.reliability.invariants import assert_invariants
from tests.reliability.stack import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.rabbitmq,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def assert_nothing_half_written(keys: list[str]) -> None:
    jobs = Job.objects.all()
    assert jobs.count() == len(keys) == SubmissionKey.objects.filter(key__in=keys).count()
    for job in jobs:
        assert job.hold_gpu_seconds == job.gpus * job.max_runtime_seconds
        assert JobEvent.objects.filter(job=job, to_state="queued", from_state="").count() == 1
    budget = AllocationBudget.objects.get(allocation=jobs.first().allocation, gpu_type="A100")
    assert budget.held_gpu_seconds == sum(job.hold_gpu_seconds for job in jobs)
    assert_invariants()


@pytest.fixture
def web(stack, local_backend, owner, allocation):
    _, key = api_key_create(user=owner)
    process, url = stack.start_web()
    return process, Client(url, key)


def statements_of_a_submission(stack, client, allocation) -> tuple[int, list[str]]:
    """SQL statements of a submission to a warm worker (a worker's first request runs a few more)."""
    keys, counts = [], []
    for probe in range(2):
        stack.arm("kill:1000000")
        keys.append(f"probe-{probe}-{uuid.uuid4().hex}")
        status, _, body = client.post_job(job_body(allocation, "probe"), keys[-1])
        assert status == 201, body
        counts.append(int(stack.fault_outcome().split()[1]))
    return counts[-1], keys


def retry_until_answered(client, body: dict, key: str, web_process) -> tuple[int, dict, dict]:
    return wait_until(
        lambda: client.post_job(body, key), "the restarted web worker to answer", process=web_process
    )


def test_it_keeps_each_submission_whole_when_the_web_worker_is_killed_at_any_point(stack, web, allocation):
    process, client = web
    statements, keys = statements_of_a_submission(stack, client, allocation)
    tried = []
    for point in [*sample(list(range(1, statements + 1)), ci=4), "response"]:
        key, body = f"kill-{point}-{uuid.uuid4().hex}", job_body(allocation, f"kill-{point}")
        stack.arm(f"kill:{point}")
        assert client.post_job(body, key) is None  # the worker died before answering
        assert stack.fault_outcome().startswith("fired")
        status, _, answer = retry_until_answered(client, body, key, process)
        assert status == 201, answer
        keys.append(key)
        assert_nothing_half_written(keys)
        tried.append(point)
    print(f"web worker kill -9 points tried: {tried} of {statements} statements + response")


def test_it_answers_503_and_writes_nothing_when_the_database_session_drops_at_any_point(
    stack, web, allocation
):
    process, client = web
    statements, keys = statements_of_a_submission(stack, client, allocation)
    tried = []
    for point in sample(list(range(1, statements + 1)), ci=4):
        key, body = f"drop-{point}-{uuid.uuid4().hex}", job_body(allocation, f"drop-{point}")
        stack.arm(f"drop:{point}")
        status, headers, answer = client.post_job(body, key)
        assert stack.fault_outcome().startswith("fired")
        assert status == 503, answer
        assert answer["code"] == "service_unavailable" and answer["extra"] == {"fields": {}}
        assert int(headers["Retry-After"]) > 0
        assert_nothing_half_written(keys)  # the failed attempt left no job, hold, event or key
        status, _, answer = client.post_job(body, key)  # the database is back: the retry goes through
        assert status == 201, answer
        keys.append(key)
        assert_nothing_half_written(keys)
        tried.append(point)
    assert process.poll() is None
    print(f"database session drops tried: {tried} of {statements} statements")
