"""Job reasons gpugrant writes are shown in the reader's language; anything else as it was stored."""

import pytest
from django.utils import translation

from scheduler.job_reasons import job_reason_text

CASES = {
    "a fixed reason": ("accepted; waiting for GPUs", "접수됨, GPU를 기다리는 중"),
    "a reason with a number": ("finished successfully (exit code 0)", "정상 종료됨 (종료 코드 0)"),
    "a placement keeps its node names": ("placed on node-a GPUs 0,1", "node-a GPUs 0,1에 배치됨"),
    "a preemption being stopped": (
        "preempted (low priority) for a job waiting longer; stopping",
        "더 오래 기다린 작업을 위해 선점됨 (낮은 우선순위), 중지하는 중",
    ),
    "a nested reason": (
        "could not be started (lost: its pods vanished); requeued",
        "시작할 수 없었습니다 (유실됨: its pods vanished), 다시 대기열에 넣음",
    ),
    "a backend's own words pass through": (
        "ImagePullBackOff: no such image",
        "ImagePullBackOff: no such image",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_it_translates_gpugrants_own_reasons_only(name):
    stored, korean = CASES[name]
    with translation.override("ko"):
        assert job_reason_text(stored) == korean
    with translation.override("en"):
        assert job_reason_text(stored) == stored  # English is what is stored


@pytest.mark.django_db
def test_the_job_page_shows_its_reasons_in_korean(client, owner, allocation, backend):
    from scheduler.inventory import inventory_sync
    from tests.scheduler.helpers import submit

    inventory_sync(backend=backend)
    job = submit(owner, allocation)
    client.force_login(owner)
    page = client.get(f"/jobs/{job.public_id}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "접수됨, GPU를 기다리는 중" in page and "accepted; waiting for GPUs" not in page
