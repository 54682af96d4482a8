"""The API returns each reason's English text and, beside it, its code."""

import pytest

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.reconcile import reconcile_jobs
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


def test_a_job_and_its_events_carry_reason_text_and_code(client_for, owner, allocation, backend):
    inventory_sync(backend=backend)
    job = submit(owner, allocation)
    run_cycle(backend=backend)
    backend.set_phase(str(job.public_id), Phase.FAILED, exit_code=2, reason="bad flag")
    reconcile_jobs(backend=backend)
    api = client_for(owner)
    body = api.get(f"/api/v1/jobs/{job.public_id}", HTTP_ACCEPT_LANGUAGE="ko").json()
    assert (body["state_reason"], body["state_reason_code"]) == (
        "failed (exit code 2): bad flag",  # English whatever the caller's language
        "failed_with_detail",
    )
    events = api.get(f"/api/v1/jobs/{job.public_id}/events").json()["results"]
    assert [(e["reason_code"], e["reason"]) for e in events] == [
        ("accepted", "accepted; waiting for GPUs"),
        ("placed", "placed on node-a GPUs 0"),
        ("failed_with_detail", "failed (exit code 2): bad flag"),
    ]
