"""GET /api/v1/settlement (staff): usage read per provider through the nodes tied to its cluster,
settled against its contracts; field-level errors; CSV."""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.providers import services
from quotas.ledger import budgets_debit
from quotas.models import LedgerEntry, UsageRecord
from scheduler.inventory import inventory_sync
from scheduler.models import GpuNode
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def lab(staff, settings, backend):
    provider = services.provider_create(staff=staff, name="Provider A")
    services.cluster_create(
        staff=staff, provider=provider, name="lab-1", backend="simulated", region="capital", gpus={"A100": 8}
    )
    services.contract_create(
        staff=staff,
        provider=provider,
        gpu_type="A100",
        gpus=8,
        starts_on="2026-01-01",
        ends_on="2026-01-31",
        price_krw_per_gpu_hour="1000",
        kind="reserved",
    )
    settings.GPUGRANT_CLUSTER = "lab-1"
    inventory_sync(backend=backend)
    return provider


def used(job, node: str, start: datetime, hours: int, first_sequence: int = 0) -> None:
    """``hours`` one-GPU-hour records on ``node``, each debited once as the ledger does (the suite checks
    records, debits and budgets agree after every test)."""
    for i in range(hours):
        begin = start + timedelta(hours=i)
        record = UsageRecord.objects.create(
            record_id=f"{job.public_id}:GPU-{node}:0:{first_sequence + i}",
            job=job,
            allocation=job.allocation,
            gpu_type="A100",
            node=node,
            gpu_uuid=f"GPU-{node}",
            epoch=0,
            sequence=first_sequence + i,
            interval_start=begin,
            interval_end=begin + timedelta(hours=1),
            gpu_seconds=3600,
            energy_mj=0,
            avg_utilisation_pct=50.0,
            avg_memory_bytes=0,
        )
        LedgerEntry.objects.create(
            usage=record, allocation=job.allocation, gpu_type="A100", gpu_seconds=3600, energy_mj=0
        )
    budgets_debit({(job.allocation_id, "A100"): 3600 * hours}, {})


def test_nodes_are_tied_to_the_cluster_the_backend_serves(lab, backend, settings):
    assert set(GpuNode.objects.values_list("name", "cluster__name")) == {
        ("node-a", "lab-1"),
        ("node-h", "lab-1"),
    }
    settings.GPUGRANT_CLUSTER = "no-such-cluster"
    with pytest.raises(ImproperlyConfigured):
        inventory_sync(backend=backend)


def test_staff_see_each_contract_month_with_idle_reserved_hours_and_what_no_contract_covers(
    lab, client_for, staff, owner, allocation
):
    job = submit(owner, allocation)
    used(job, "node-a", datetime(2026, 1, 10, 9, tzinfo=SEOUL), 10)
    used(job, "node-a", datetime(2026, 2, 1, 0, 30, tzinfo=SEOUL), 2, first_sequence=100)  # no contract
    GpuNode.objects.create(name="elsewhere", gpu_type="A100", gpu_count=8, backend="local")  # no cluster
    used(job, "elsewhere", datetime(2026, 1, 11, tzinfo=SEOUL), 5, first_sequence=200)
    body = client_for(staff).get("/api/v1/settlement?from=2026-01&to=2026-02").json()
    assert body["lines"] == [
        {
            "provider": "Provider A",
            "contract": body["lines"][0]["contract"],
            "gpu_type": "A100",
            "month": "2026-01",
            "kind": "reserved",
            "rented_gpu_hours": str(8 * 31 * 24),
            "used_gpu_hours": "10.000",
            "idle_reserved_gpu_hours": str(8 * 31 * 24 - 10) + ".000",
            "owed_krw": str(8 * 31 * 24 * 1000),
            "utilisation": round(10 / (8 * 31 * 24), 4),
        }
    ]
    assert body["unmatched"] == [
        {"provider": "Provider A", "gpu_type": "A100", "month": "2026-02", "gpu_hours": "2.000"}
    ]

    response = client_for(staff).get("/api/v1/settlement?from=2026-01&to=2026-01&export=csv")
    assert (
        response["Content-Type"].startswith("text/csv") and response["Cache-Control"] == "private, no-store"
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["month"], r["used_gpu_hours"], r["owed_krw"]) for r in rows] == [
        ("2026-01", "10.000", "5952000")
    ]


@pytest.mark.parametrize(
    "query, fields",
    [
        ("", {"from", "to"}),
        ("from=2026-13&to=2026-01", {"from"}),
        ("from=2026-1&to=2026-01", {"from"}),
        ("from=2026-03&to=2026-01", {"to"}),
        ("from=2020-01&to=2026-01", {"to"}),  # more than 36 months
        ("from=2026-01&to=2026-01&export=xml", {"export"}),
    ],
)
def test_a_bad_period_is_a_field_error(client_for, staff, query, fields):
    response = client_for(staff).get(f"/api/v1/settlement?{query}")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == fields


def test_only_staff_see_settlement(client_for, owner):
    assert client_for(owner).get("/api/v1/settlement?from=2026-01&to=2026-01").status_code == 403
