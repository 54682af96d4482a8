"""Numbers and dates outside what gpugrant can hold are refused with a field error, never a 500.

Found by a sweep after usage timestamps in year 10000 crashed POST /usage: Python's int() refuses more
than 4,300 digits (ValueError), str.isdigit() accepts digits int() cannot read ("²"), and a call's date
in year 1 (the portal's zone, Asia/Seoul, was UTC+8:27:52 then) is stored before year 1 in UTC, which
PostgreSQL keeps but no Python datetime can hold: every page listing calls then failed.
"""

import json

import pytest
from django.test import Client

from portal.calls.models import Call
from scheduler.inventory import inventory_sync
from scheduler.node_keys import node_key_create
from tests import builders

pytestmark = pytest.mark.django_db

HUGE = "9" * 5000  # beyond int()'s 4,300-digit limit


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"page={HUGE}", "page"),
        (f"page_size={HUGE}", "page_size"),
        (f"page=1{'0' * 30}", "page"),
        (f"page_size=1{'0' * 30}", "page_size"),
    ],
)
def test_it_refuses_enormous_page_numbers(client_for, owner, query, field):
    response = client_for(owner).get(f"/api/v1/jobs?{query}")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]


@pytest.mark.parametrize("limit", [HUGE, "²", "١٢", "1" + "0" * 30, "0", "-1", "1.5", ""])
def test_it_refuses_a_log_limit_it_cannot_read(client_for, owner, allocation, backend, limit):
    inventory_sync(backend=backend)
    job = builders.queued_job(owner, allocation, "logs")
    response = client_for(owner).get(f"/api/v1/jobs/{job.public_id}/logs", {"limit_bytes": limit})
    assert response.status_code == 400, response.content[:200]
    assert list(response.json()["extra"]["fields"]) == ["limit_bytes"]


def test_it_ignores_a_spool_backlog_header_it_cannot_read(job_for_usage):
    from portal.ops.models import AgentReport

    _, key = node_key_create(node="node-a")
    response = Client(raise_request_exception=False).post(
        "/api/v1/usage",
        json.dumps({"records": [job_for_usage]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Node {key}",
        HTTP_GPUGRANT_SPOOL_BACKLOG=HUGE,
    )
    assert response.status_code == 200, response.content[:200]
    assert AgentReport.objects.get(node="node-a").spool_backlog == 2**62  # the clamp it always had


@pytest.fixture
def job_for_usage(backend, owner, allocation, settings):
    from django.utils import timezone

    from scheduler.backends.base import Phase
    from scheduler.cycle import run_cycle
    from tests.scheduler.helpers import submit

    settings.GPUGRANT_METERING = "agent"
    inventory_sync(backend=backend)
    job = submit(owner, allocation, gpus_per_pod=1, minutes=600)
    run_cycle(backend=backend)
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    start = timezone.now().timestamp() - 3600
    return {
        "id": f"{job.public_id}:GPU-0:0:0",
        "job_id": str(job.public_id),
        "gpu_uuid": "GPU-0",
        "epoch": 0,
        "sequence": 0,
        "interval_start": start,
        "interval_end": start + 60,
        "gpu_seconds": 60,
        "energy_mj": 1,
        "avg_utilisation_pct": 50.0,
        "avg_memory_bytes": 0,
    }


CALL = {
    "title": "Dates",
    "opens_at": "2027-01-01T00:00:00+09:00",
    "closes_at": "2027-02-01T00:00:00+09:00",
    "eligible_org_types": ["sme"],
    "allocation_start": "2027-03-01",
    "allocation_end": "2027-12-31",
    "pools": [{"gpu_type": "A100", "total_gpu_hours": 10, "max_gpu_hours_per_application": 10}],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("opens_at", "0001-01-01T00:00:00Z"),
        ("opens_at", "1999-12-31T12:00:00+09:00"),
        ("closes_at", "2100-01-01T00:00:00+09:00"),
        ("allocation_start", "0001-01-01"),
        ("allocation_end", "9999-12-31"),
        ("allocation_end", "2100-01-01"),
    ],
)
def test_the_api_keeps_call_dates_within_the_service_s_range(client_for, staff, field, value):
    response = client_for(staff).post("/api/v1/calls", {**CALL, field: value}, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()["extra"]["fields"]
    assert not Call.objects.filter(title="Dates").exists()


@pytest.mark.parametrize("opens_at", ["0001-01-01T00:00", "0001-01-01T08:00", "1999-12-31T23:59"])
def test_the_staff_call_form_refuses_dates_it_cannot_store(staff, opens_at):
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    response = client.post(
        "/staff/calls/new/",
        {
            "title": "Dates",
            "opens_at": opens_at,
            "closes_at": "2027-02-01T00:00",
            "eligible_org_types": ["sme"],
            "allocation_start": "2027-03-01",
            "allocation_end": "2027-12-31",
            "pool_total_A100": "10",
            "pool_max_A100": "10",
        },
    )
    assert response.status_code == 200, response.status_code
    assert "opens_at" in response.context["form"].errors
    assert not Call.objects.filter(title="Dates").exists()
    assert client.get("/calls/").status_code == 200


def test_the_range_s_edges_are_accepted(client_for, staff):
    body = {
        **CALL,
        "opens_at": "2000-01-01T00:00:00+09:00",
        "allocation_end": "2099-12-31",
    }
    assert client_for(staff).post("/api/v1/calls", body, format="json").status_code == 201
