"""gpugrant usage: GPU-hours used against awarded per allocation and GPU type, with the metered energy."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.metering import usage_ingest
from scheduler.reconcile import reconcile_jobs
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def metered_job(nodes, owner, allocation, settings):
    """A running 1-GPU A100 job (10 h at most) whose node reported two GPU-hours and 3 kWh."""
    settings.GPUGRANT_METERING = "agent"
    job = submit(owner, allocation, gpus_per_pod=1, minutes=600)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    start = timezone.now() - timedelta(hours=3)
    records = [
        {
            "id": f"{job.public_id}:GPU-0:0:{n}",
            "job_id": str(job.public_id),
            "gpu_uuid": "GPU-0",
            "epoch": 0,
            "sequence": n,
            "interval_start": start + timedelta(hours=n),
            "interval_end": start + timedelta(hours=n + 1),
            "gpu_seconds": 3600,
            "energy_mj": energy_mj,
            "avg_utilisation_pct": 80.0,
            "avg_memory_bytes": 2**30,
            "estimated": False,
            "simulated": False,
            "quarantined": False,
        }
        for n, energy_mj in enumerate([1_800_000_000, 9_000_000_000])
    ]
    assert usage_ingest(node="node-a", records=records).accepted == 2
    return job


def test_it_shows_used_against_awarded_per_gpu_type_with_energy(cli, metered_job, allocation):
    result = cli("usage")
    assert result.code == 0, result.stderr
    header, *rows = [line.split("  ") for line in result.stdout.splitlines()]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    # The job's hold was its 10 h maximum runtime; the 2 h used came out of it, 8 h stay held.
    assert [c[2:] for c in cells] == [
        ["A100", "2.00", "2,000.00", "0.1 %", "8.00", "1,990.00", "3.000"],
        ["H100", "0.00", "500.00", "0.0 %", "0.00", "500.00", "0.000"],
    ]
    assert all(c[0] == str(allocation.public_id) and c[1] == "Korean LLM fine-tuning" for c in cells)


def test_it_answers_in_json_and_for_one_allocation_by_title(cli, metered_job, allocation):
    rows = json.loads(cli("usage", "--allocation", "Korean LLM fine-tuning", "--json").stdout)
    a100 = next(row for row in rows if row["gpu_type"] == "A100")
    assert (a100["used_gpu_hours"], a100["awarded_gpu_hours"], a100["energy_kwh"]) == (2.0, 2000.0, 3.0)
    assert a100["allocation"] == str(allocation.public_id) and a100["status"] == "active"


def test_another_organisations_allocation_is_not_found(cli, nodes, allocation, other_allocation):
    result = cli("usage", "--allocation", str(other_allocation.public_id))
    assert result.code == 4 and "Traceback" not in result.stderr


def test_without_allocations_it_says_so(cli, nodes, organisation):
    result = cli("usage")
    assert result.code == 0 and result.stdout == "No allocations yet.\n"
