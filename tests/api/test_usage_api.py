import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import NodeKey
from scheduler.node_keys import node_key_create
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(backend, owner, allocation, settings):
    settings.GPUGRANT_METERING = "agent"
    inventory_sync(backend=backend)
    job = submit(owner, allocation, gpus_per_pod=1, minutes=600)
    run_cycle(backend=backend)
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    return job


def node_client(node="node-a"):
    client = APIClient()
    _, key = node_key_create(node=node)
    client.credentials(HTTP_AUTHORIZATION=f"Node {key}")
    return client


def wire(job, sequence, *, seconds=3600, energy=3_600_000_000, util=50.0):
    start = timezone.now().timestamp() - 10 * 3600 + sequence * seconds
    return {
        "id": f"{job.public_id}:GPU-0:0:{sequence}",
        "job_id": str(job.public_id),
        "gpu_uuid": "GPU-0",
        "epoch": 0,
        "sequence": sequence,
        "interval_start": start,
        "interval_end": start + seconds,
        "gpu_seconds": seconds,
        "energy_mj": energy,
        "avg_utilisation_pct": util,
        "avg_memory_bytes": 2**30,
    }


def test_a_node_reports_usage_once_and_sees_only_its_jobs(job):
    node = node_client()
    body = {"records": [wire(job, 0), wire(job, 1)]}
    first = node.post("/api/v1/usage", body, format="json")
    assert first.status_code == 200 and first.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert node.post("/api/v1/usage", body, format="json").json() == {
        "accepted": 0,
        "duplicates": 2,
        "rejected": [],
    }
    assert [j["id"] for j in node.get("/api/v1/node/jobs").json()["jobs"]] == [str(job.public_id)]
    other = node_client("node-h")
    assert other.get("/api/v1/node/jobs").json()["jobs"] == []
    refused = other.post("/api/v1/usage", {"records": [wire(job, 2)]}, format="json").json()
    assert (
        refused["accepted"] == 0 and refused["rejected"][0]["reason"] == "the job was not placed on this node"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "records"),
        ({"records": []}, "records"),
        ({"records": "all of them"}, "records"),
    ],
)
def test_it_refuses_malformed_batches_with_field_errors(job, body, field):
    response = node_client().post("/api/v1/usage", body, format="json")
    assert response.status_code == 400 and field in response.json()["extra"]["fields"]


def test_it_refuses_bad_records_and_oversized_batches(job):
    node = node_client()
    bad = wire(job, 0)
    bad["avg_utilisation_pct"] = 140
    response = node.post("/api/v1/usage", {"records": [bad]}, format="json")
    assert (
        response.status_code == 400 and "records.0.avg_utilisation_pct" in response.json()["extra"]["fields"]
    )
    big = {"records": [wire(job, i, seconds=1) for i in range(1001)]}
    assert node.post("/api/v1/usage", big, format="json").status_code == 400


def test_users_and_revoked_nodes_cannot_report(job, client_for, owner, staff):
    for user in (owner, staff):
        assert (
            client_for(user).post("/api/v1/usage", {"records": [wire(job, 0)]}, format="json").status_code
            == 401
        )
    node = node_client()
    NodeKey.objects.update(revoked_at=timezone.now())
    assert node.post("/api/v1/usage", {"records": [wire(job, 0)]}, format="json").status_code == 401
    assert node.get("/api/v1/jobs").status_code == 401  # a node key opens no user endpoint


def test_it_reports_usage_per_job_and_allocation_with_csv(
    job, client_for, owner, outsider, allocation, settings
):
    settings.GPUGRANT_PRICE_KRW_PER_GPU_HOUR = {"A100": 3000}
    settings.GPUGRANT_GRID_KG_CO2_PER_KWH = 0.5
    node_client().post("/api/v1/usage", {"records": [wire(job, 0), wire(job, 1, util=70.0)]}, format="json")
    api = client_for(owner)
    summary = api.get(f"/api/v1/jobs/{job.public_id}/usage").json()["summary"]
    assert (
        summary["gpu_hours"] == 2.0 and summary["energy_kwh"] == 2.0 and summary["average_power_w"] == 1000.0
    )
    assert (
        summary["average_utilisation_pct"] == 60.0
        and summary["cost_krw"] == 6000
        and summary["co2_kg"] == 1.0
    )
    months = api.get(f"/api/v1/allocations/{allocation.public_id}/usage").json()["months"]
    assert [(m["gpu_type"], m["gpu_hours"], m["jobs"]) for m in months] == [("A100", 2.0, 1)]
    exported = api.get(f"/api/v1/allocations/{allocation.public_id}/usage?export=csv")
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert rows[0]["gpu_hours"] == "2.0" and rows[0]["cost_krw"] == "6000"
    assert api.get(f"/api/v1/jobs/{job.public_id}/usage?export=pdf").status_code == 400
    assert client_for(outsider).get(f"/api/v1/jobs/{job.public_id}/usage").status_code == 404
    assert (
        client_for(outsider).get(f"/api/v1/allocations/{allocation.public_id}/usage?export=csv").status_code
        == 404
    )


def test_create_node_key_prints_the_key_on_its_last_line():
    out = StringIO()
    call_command("create_node_key", "--node", "gpu-node-7", stdout=out, stderr=StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    stored = NodeKey.objects.get(node="gpu-node-7")
    assert key.startswith("ggnode_") and key not in stored.key_hash and stored.prefix in key


def test_usage_is_kept_after_the_job_ends_in_the_report(job, client_for, owner, backend):
    from scheduler.reconcile import reconcile_jobs

    node_client().post("/api/v1/usage", {"records": [wire(job, 0)]}, format="json")
    backend.set_phase(str(job.public_id), Phase.SUCCEEDED, exit_code=0)
    reconcile_jobs(backend=backend)
    detail = client_for(owner).get(f"/api/v1/jobs/{job.public_id}").json()
    assert (
        detail["state"] == "succeeded" and detail["used_gpu_hours"] == 1.0 and detail["held_gpu_hours"] == 0
    )


# Every timestamp and number in a usage batch is range-checked: a 400 naming the record's field (the
# agent sets just that record aside), never a 500, and nothing of the batch written.
YEAR_10000 = 253_402_300_800.0

OUT_OF_RANGE = [
    ("interval_start", YEAR_10000),
    ("interval_end", YEAR_10000),
    ("interval_start", 1e300),
    ("interval_end", 1e300),
    ("interval_end", 1e20),
    ("interval_start", -1),
    ("interval_end", -1e300),
    ("interval_start", 10**30),
    ("interval_end", 10**400),
    ("interval_start", 0),  # an unset clock: 1970
    ("interval_end", "future"),  # an hour and more ahead of the portal's clock
    ("gpu_seconds", 10**30),
    ("gpu_seconds", -1),
    ("energy_mj", 10**30),
    ("energy_mj", 1e300),
    ("avg_utilisation_pct", 1e300),
    ("avg_utilisation_pct", -0.5),
    ("avg_memory_bytes", 2**64),
    ("epoch", 2**31),
    ("sequence", -1),
]


def post_raw(node, text: str):
    return node.generic("POST", "/api/v1/usage", text, content_type="application/json")


def _case_id(field, value) -> str:
    return (
        f"{field}=10**{len(str(value)) - 1}"
        if isinstance(value, int) and value > 10**6
        else f"{field}={value}"
    )


@pytest.mark.parametrize(("field", "value"), OUT_OF_RANGE, ids=[_case_id(f, v) for f, v in OUT_OF_RANGE])
def test_it_refuses_out_of_range_numbers_with_a_field_error_and_writes_nothing(job, field, value):
    from portal.ops.models import AgentReport
    from quotas.models import LedgerEntry, UsageRecord

    if value == "future":
        value = timezone.now().timestamp() + 2 * 3600
    bad = wire(job, 2)
    bad[field] = value
    body = {"records": [wire(job, 0), wire(job, 1), bad]}
    response = node_client().post("/api/v1/usage", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid"
    assert list(response.json()["extra"]["fields"]) == [f"records.2.{field}"]
    assert UsageRecord.objects.count() == 0 and LedgerEntry.objects.count() == 0
    assert not AgentReport.objects.exists()
    job.refresh_from_db()
    assert job.used_gpu_seconds == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["interval_start", "interval_end", "avg_utilisation_pct", "gpu_seconds"])
def test_it_names_the_field_holding_nan_or_infinity(job, field, constant):
    """Python's json.dumps writes NaN and Infinity; an agent that sends them gets the record's field named
    (so it sets that record aside) instead of a parse error that would hold up its whole spool."""
    from quotas.models import UsageRecord

    records = [wire(job, 0), wire(job, 1)]
    text = json.dumps({"records": records})
    marked = json.dumps({"records": [records[0], {**records[1], field: "MARK"}]})
    text = marked.replace('"MARK"', constant)
    response = post_raw(node_client(), text)
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["extra"]["fields"]) == [f"records.1.{field}"]
    assert UsageRecord.objects.count() == 0


def test_it_still_refuses_nan_outside_usage_reports(client_for, owner):
    response = client_for(owner).generic(
        "POST", "/api/v1/api-keys", '{"name": NaN}', content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_it_accepts_records_at_the_edges_of_the_range(job):
    now = timezone.now().timestamp()
    edge = wire(job, 0, seconds=60)
    edge.update(interval_start=now + 3000, interval_end=now + 3060)  # a clock up to an hour fast
    big = wire(job, 1, seconds=86_400)
    big.update(interval_start=now - 3 * 86_400, interval_end=now - 2 * 86_400, gpu_seconds=86_400)
    big.update(energy_mj=10**13, avg_utilisation_pct=100.0, avg_memory_bytes=2**50, epoch=2**31 - 1)
    big["id"] = f"{job.public_id}:GPU-0:{2**31 - 1}:1"
    response = node_client().post("/api/v1/usage", {"records": [edge, big]}, format="json")
    assert response.status_code == 200 and response.json()["accepted"] == 2, response.json()
