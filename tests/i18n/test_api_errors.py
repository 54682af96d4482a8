"""API errors in the envelope follow Accept-Language: the message and every field error."""

import pytest
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from scheduler.inventory import inventory_sync
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner, allocation, backend):
    inventory_sync(backend=backend)
    client = APIClient()
    _, plaintext = api_key_create(user=owner)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def bad_job(allocation) -> dict:
    return {
        "allocation": str(allocation.public_id),
        "name": "bert-finetune",
        "kind": "mining",
        "image": "registry.example.kr/team/train:1.2",
        "command": ["python", "train.py"],
        "gpu_type": "A100",
        "gpus_per_pod": 9,
        "max_runtime_minutes": 60,
    }


def test_it_answers_a_bad_job_in_english_by_default(api, allocation):
    response = api.post("/api/v1/jobs", bad_job(allocation), format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Some fields are not valid."
    assert response["Content-Language"] == "en"


def test_it_answers_a_bad_job_in_korean_when_asked(api, allocation):
    response = api.post("/api/v1/jobs", bad_job(allocation), format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 400
    envelope = response.json()
    assert envelope["message"] == "일부 항목이 올바르지 않습니다."
    assert envelope["code"] == "invalid"  # codes stay the same in every language
    fields = envelope["extra"]["fields"]
    assert set(fields) >= {"kind", "gpus_per_pod"}
    for messages in (fields["kind"], fields["gpus_per_pod"]):
        assert all(any("\uac00" <= char <= "\ud7a3" for char in message) for message in messages), fields


def test_it_answers_a_conflict_in_korean(api, allocation):
    from quotas.models import AllocationBudget

    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(
        used_gpu_seconds=2000 * 3600 - 3600
    )
    job = {**bad_job(allocation), "kind": "training", "gpus_per_pod": 2}
    response = api.post("/api/v1/jobs", job, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 409
    assert response.json()["message"] == "배정에 이 작업을 실행할 GPU 시간이 부족합니다."


def test_it_answers_authentication_and_not_found_in_korean():
    client = APIClient()
    response = client.get("/api/v1/jobs", HTTP_ACCEPT_LANGUAGE="ko", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401
    assert response.json()["message"] == "유효하지 않거나 폐기된 API 키입니다."
    response = client.get("/api/v1/no-such-thing", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 404 and response.json()["message"] == "찾을 수 없습니다."


def test_it_names_states_in_korean_inside_messages(api, owner, allocation):
    job = builders.queued_job(owner, allocation, "done job")
    assert api.post(f"/api/v1/jobs/{job.public_id}/cancel").status_code == 200
    again = api.post(f"/api/v1/jobs/{job.public_id}/cancel", HTTP_ACCEPT_LANGUAGE="ko")
    assert again.status_code == 409 and again.json()["message"] == "작업이 이미 종료되었습니다(취소됨)."
    english = api.post(f"/api/v1/jobs/{job.public_id}/cancel")
    assert english.json()["message"] == "The job already ended (cancelled)."
