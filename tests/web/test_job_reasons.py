"""A job's page shows its reasons in the reader's language, rendered from their codes."""

import pytest

from scheduler import reasons
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.services import job_cancel
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


def page(client, user, job, language: str) -> str:
    client.force_login(user)
    return client.get(f"/jobs/{job.public_id}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()


@pytest.fixture
def cancelled_job(owner, allocation, backend):
    inventory_sync(backend=backend)
    return job_cancel(job=submit(owner, allocation), user=owner)


def test_the_job_page_shows_its_reasons_in_korean(client, owner, cancelled_job):
    korean = page(client, owner, cancelled_job, "ko")
    assert "접수됨, GPU를 기다리는 중" in korean and "accepted; waiting for GPUs" not in korean  # an event
    assert f"시작 전에 {owner.email} 님이 취소함" in korean  # the state, with its parameter
    assert "before it started" not in korean
    english = page(client, owner, cancelled_job, "en")
    assert f"cancelled by {owner.email} before it started" in english and "접수됨" not in english


@pytest.mark.parametrize(
    ("code", "params", "shown"),
    [
        ("text", {"text": "ImagePullBackOff: no such image"}, "ImagePullBackOff: no such image"),
        ("a_code_of_a_later_version", {"anything": 1}, "the stored English"),
        ("timed_out", {}, "the stored English"),  # parameters that do not fit
    ],
)
def test_words_from_elsewhere_and_unknown_codes_show_as_stored(
    client, owner, cancelled_job, code, params, shown
):
    Job.objects.filter(pk=cancelled_job.pk).update(
        state_reason="the stored English", state_reason_code=code, state_reason_params=params
    )
    assert shown in page(client, owner, cancelled_job, "ko")


def test_a_backends_words_inside_a_reason_are_kept(client, owner, cancelled_job):
    cancelled_job.set_state_reason(reasons.lost("node node-3 was removed"))
    cancelled_job.save()
    assert "유실됨: node node-3 was removed" in page(client, owner, cancelled_job, "ko")
