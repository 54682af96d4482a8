"""Writing an admitted job: one statement on PostgreSQL, a transaction elsewhere — the same outcomes."""

import pytest
from django.db import IntegrityError, connection, transaction

from portal.errors import Conflict, InvalidInput
from quotas.models import AllocationBudget
from scheduler import services
from scheduler.inventory import inventory_sync
from scheduler.models import Job, JobEvent, SubmissionKey
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one statement", "transaction"])
def admission(request, monkeypatch):
    if request.param == "transaction":
        monkeypatch.setattr(services, "admit_in_one_statement", services._admit_in_a_transaction)  # noqa: SLF001
    elif connection.vendor != "postgresql":
        pytest.skip("the one-statement admission is PostgreSQL's")
    return request.param


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


def budget(allocation, gpu_type="A100") -> AllocationBudget:
    return AllocationBudget.objects.get(allocation=allocation, gpu_type=gpu_type)


def written() -> tuple[int, int, int]:
    return Job.objects.count(), JobEvent.objects.count(), SubmissionKey.objects.count()


def test_it_writes_the_hold_the_job_and_its_event(admission, owner, allocation, nodes):
    job = submit(owner, allocation, gpus_per_pod=2, minutes=30)
    assert Job.objects.get(pk=job.pk).public_id == job.public_id
    assert [(e.to_state, e.data) for e in job.events.all()] == [("queued", {"held_gpu_seconds": 3600})]
    assert budget(allocation).held_gpu_seconds == job.hold_gpu_seconds == 3600


def test_it_writes_nothing_when_the_budget_cannot_cover_the_job(admission, owner, allocation, nodes):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(awarded_gpu_hours=1)
    with pytest.raises(Conflict) as refused:
        submit(owner, allocation, gpus_per_pod=2, minutes=60)
    assert refused.value.code == "budget_exceeded" and "max_runtime_minutes" in refused.value.fields
    assert written() == (0, 0, 0) and budget(allocation).held_gpu_seconds == 0


def test_a_gpu_type_never_awarded_is_a_field_error(admission, owner, allocation, nodes):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="H100").delete()
    with pytest.raises(InvalidInput) as refused:
        submit(owner, allocation, gpu_type="H100")
    assert refused.value.fields["gpu_type"] == ["This allocation has no H100 GPU-hours (awarded: A100)."]
    assert written() == (0, 0, 0)


def test_a_used_key_writes_nothing_at_all(admission, owner, allocation, nodes):
    def record(job):
        return SubmissionKey(
            user=owner, key="once", fingerprint="f", job=job, response_status=201, response_body={}
        )

    first = services.job_submit(
        user=owner, allocation=allocation, name="a", kind="training", image="python:3.11",
        command=["true"], gpu_type="A100", gpus_per_pod=1, max_runtime_minutes=60, record=record,
    )  # fmt: skip
    assert SubmissionKey.objects.get(key="once").job_id == first.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        services.job_submit(
            user=owner, allocation=allocation, name="b", kind="training", image="python:3.11",
            command=["true"], gpu_type="A100", gpus_per_pod=1, max_runtime_minutes=60, record=record,
        )  # fmt: skip
    assert written() == (1, 1, 1) and budget(allocation).held_gpu_seconds == 3600


def test_a_large_award_is_held_against_without_overflow(admission, owner, allocation, nodes):
    # 1,000,000 GPU-hours are 3.6e9 GPU-seconds: beyond a 32-bit integer.
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(
        awarded_gpu_hours=1_000_000, used_gpu_seconds=1_000_000 * 3600 - 3600
    )
    submit(owner, allocation, gpus_per_pod=1, minutes=60)
    with pytest.raises(Conflict):
        submit(owner, allocation, gpus_per_pod=1, minutes=1)
    assert budget(allocation).remaining_gpu_seconds == 0
