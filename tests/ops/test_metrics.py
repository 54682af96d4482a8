"""/metrics after a small demo-like run carries the right numbers.

Per-process series (HTTP, ingestion lag) accumulate over the whole test session, so those are checked
as differences between two scrapes; database series are exact.
"""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from portal.ops.models import AgentReport, ServiceStats
from quotas.models import AllocationBudget
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.models import GpuNode, Job
from scheduler.reconcile import reconcile_jobs
from scheduler.states import JobState
from tests import builders
from tests.ops.conftest import sample, scrape
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db


def gpus(samples, node, gpu_type) -> dict[str, float]:
    return {
        state: sample(samples, "gpugrant_gpus", gpu_type=gpu_type, node=node, state=state)
        for state in ("busy", "idle", "reserved", "unavailable")
    }


def test_it_reports_the_queue_gpus_and_placements_of_a_cycle(client, cluster, owner, allocation):
    big = [submit(owner, allocation, gpus_per_pod=4, name=f"big-{n}") for n in range(2)]
    waiting = submit(owner, allocation, gpus_per_pod=2, name="waits")
    submit(owner, allocation, gpus_per_pod=1, gpu_type="H100", name="h100")
    before = scrape(client)
    assert sample(before, "gpugrant_queue_jobs", gpu_type="A100") == 3
    assert sample(before, "gpugrant_queue_gpus", gpu_type="A100") == 10

    result = run_cycle(backend=cluster)
    assert result.bound == 3
    after = scrape(client)

    assert sample(after, "gpugrant_queue_jobs", gpu_type="A100") == 1  # "waits": node-a is full
    assert sample(after, "gpugrant_queue_gpus", gpu_type="A100") == 2
    assert sample(after, "gpugrant_queue_jobs", gpu_type="H100") == 0
    waited = (timezone.now() - Job.objects.get(pk=waiting.pk).queued_at).total_seconds()
    assert 0 < sample(after, "gpugrant_queue_oldest_wait_seconds", gpu_type="A100") <= waited
    assert gpus(after, "node-a", "A100") == {"busy": 8, "idle": 0, "reserved": 0, "unavailable": 0}
    assert gpus(after, "node-h", "H100") == {"busy": 1, "idle": 7, "reserved": 0, "unavailable": 0}
    for gpu_type, placed in (("A100", 2), ("H100", 1)):
        name = "gpugrant_scheduler_placements_total"
        assert sample(after, name, gpu_type=gpu_type) - sample(before, name, gpu_type=gpu_type) == placed
        assert sample(after, "gpugrant_scheduler_placement_wait_seconds_count", gpu_type=gpu_type) == placed
    # The wait of each started job is its time from queued to scheduled.
    started = Job.objects.filter(pk__in=[job.pk for job in big])
    expected_wait = sum((job.scheduled_at - job.queued_at).total_seconds() for job in started)
    assert sample(after, "gpugrant_scheduler_placement_wait_seconds_sum", gpu_type="A100") == pytest.approx(
        expected_wait
    )
    cycles = sample(after, "gpugrant_scheduler_cycle_duration_seconds_count")
    assert cycles - sample(before, "gpugrant_scheduler_cycle_duration_seconds_count") == 1
    assert sample(after, "gpugrant_scheduler_cycle_duration_seconds_bucket", le="+Inf") == cycles
    stats = ServiceStats.objects.get()
    assert sample(after, "gpugrant_scheduler_last_cycle_timestamp_seconds") == stats.last_cycle_at.timestamp()
    assert sample(after, "gpugrant_scheduler_last_cycle_duration_seconds") == stats.last_cycle_seconds


def test_it_counts_gpus_held_for_a_preemptor_and_on_cordoned_nodes(client, cluster, owner, allocation):
    submit(owner, allocation, gpus_per_pod=2, gpu_type="H100")
    run_cycle(backend=cluster)
    held = submit(owner, allocation, gpus_per_pod=8, gpu_type="H100", name="preemptor")
    Job.objects.filter(pk=held.pk).update(held_nodes=["node-h"], held_since=timezone.now())
    GpuNode.objects.filter(name="node-a").update(schedulable=False)
    samples = scrape(client)
    assert gpus(samples, "node-h", "H100") == {"busy": 2, "idle": 0, "reserved": 6, "unavailable": 0}
    assert gpus(samples, "node-a", "A100") == {"busy": 0, "idle": 0, "reserved": 0, "unavailable": 8}
    # An expired hold reserves nothing.
    Job.objects.filter(pk=held.pk).update(held_since=timezone.now() - timedelta(days=1))
    assert gpus(scrape(client), "node-h", "H100")["idle"] == 6


def test_a_usage_report_counts_its_lag_the_agent_backlog_and_an_exhausted_budget(
    client, cluster, settings, owner, organisation, call, staff, reviewer, node_client_for
):
    settings.GPUGRANT_METERING = "agent"
    small = builders.approved(
        owner,
        organisation,
        call,
        staff,
        reviewer,
        gpu_requests={"A100": 1},
        awarded_gpu_hours={"A100": 1},
        project_title="One GPU-hour",
    )
    job = submit(owner, small, gpus_per_pod=1, minutes=60)
    run_cycle(backend=cluster)
    cluster.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=cluster)
    before = scrape(client)

    end = timezone.now().timestamp() - 120  # the agent sends two minutes after the interval ended
    record = {
        "id": f"{job.public_id}:GPU-0:0:0",
        "job_id": str(job.public_id),
        "gpu_uuid": "GPU-0",
        "epoch": 0,
        "sequence": 0,
        "interval_start": end - 3600,
        "interval_end": end,
        "gpu_seconds": 3600,  # the whole award
        "energy_mj": 1_000_000,
        "avg_utilisation_pct": 90.0,
        "avg_memory_bytes": 0,
    }
    agent = node_client_for("node-a")
    response = agent.post(
        "/api/v1/usage", {"records": [record]}, format="json", HTTP_GPUGRANT_SPOOL_BACKLOG="42"
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    after = scrape(client)

    assert AllocationBudget.objects.get(allocation=small).notified_percent == 100
    assert Job.objects.get(pk=job.pk).stop_requested == JobState.EXHAUSTED
    exhaustions = "gpugrant_budget_exhaustions_total"
    assert sample(after, exhaustions) - sample(before, exhaustions) == 1
    lag = "gpugrant_usage_ingestion_lag_seconds"
    assert sample(after, f"{lag}_count") - sample(before, f"{lag}_count") == 1
    received = AgentReport.objects.get(node="node-a").reported_at.timestamp()
    assert sample(after, f"{lag}_sum") - sample(before, f"{lag}_sum") == pytest.approx(received - end)
    assert sample(after, f"{lag}_bucket", le="60.0") - sample(before, f"{lag}_bucket", le="60.0") == 0
    assert sample(after, f"{lag}_bucket", le="300.0") - sample(before, f"{lag}_bucket", le="300.0") == 1
    assert sample(after, "gpugrant_node_agent_spool_backlog_records", node="node-a") == 42
    assert sample(after, "gpugrant_node_agent_last_report_timestamp_seconds", node="node-a") == received

    # An agent that predates the header still counts as reporting and keeps its last backlog.
    record.update(id=f"{job.public_id}:GPU-0:0:1", sequence=1, interval_start=end, interval_end=end + 1)
    record["gpu_seconds"] = 1
    assert agent.post("/api/v1/usage", {"records": [record]}, format="json").status_code == 200
    assert AgentReport.objects.get(node="node-a").reported_at.timestamp() > received
    assert sample(scrape(client), "gpugrant_node_agent_spool_backlog_records", node="node-a") == 42
    # The budget ran out once: further usage is no second exhaustion.
    assert sample(scrape(client), exhaustions) - sample(before, exhaustions) == 1


def test_it_counts_api_requests_by_route_and_status_and_server_errors(
    client, owner, allocation, api_client_for, monkeypatch
):
    api = api_client_for(owner)
    duration = "gpugrant_http_request_duration_seconds_count"
    route = {"method": "GET", "route": "api/v1/jobs", "status": "200"}
    before = scrape(client)
    assert api.get("/api/v1/jobs").status_code == 200
    assert api.get("/api/v1/jobs").status_code == 200
    after = scrape(client)
    assert sample(after, duration, **route) - sample(before, duration, **route) == 2

    from portal.api.views import jobs

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(jobs.JobListCreate, "get", broken)
    api.raise_request_exception = False
    assert api.get("/api/v1/jobs").status_code == 500
    failed = scrape(client)
    errors = {"method": "GET", "route": "api/v1/jobs", "status": "500"}
    assert (
        sample(failed, "gpugrant_http_server_errors_total", **errors)
        - sample(after, "gpugrant_http_server_errors_total", **errors)
        == 1
    )
    assert sample(failed, duration, **errors) - sample(after, duration, **errors) == 1
    # Scrapes themselves are not counted.
    assert not any(dict(labels).get("route") == "metrics" for _, labels in failed)


def test_unknown_methods_and_paths_open_no_new_series(client):
    client.generic("BREW", "/no/such/page")
    client.get("/api/v1/jobs/not-a-uuid")
    labels = [dict(labels) for name, labels in scrape(client) if name.startswith("gpugrant_http_")]
    assert {"method": "other", "route": "<unmatched>", "status": "404"} in [
        {k: v for k, v in label.items() if k != "le"} for label in labels
    ]
    assert all("not-a-uuid" not in label.get("route", "") for label in labels)


def test_a_database_failure_still_serves_the_process_series(client, monkeypatch):
    from django.db import DatabaseError

    from portal.ops import metrics

    assert sample(scrape(client), "gpugrant_metrics_database_up") == 1

    def unreachable(now):
        raise DatabaseError("connection refused")
        yield  # a generator, like the real one

    monkeypatch.setattr(metrics, "_queue", unreachable)
    client.get("/api/v1/jobs")
    samples = scrape(client)
    assert sample(samples, "gpugrant_metrics_database_up") == 0
    assert any(name.startswith("gpugrant_http_request_duration_seconds") for name, _ in samples)
    assert not any(name.startswith("gpugrant_gpus") for name, _ in samples)


WORKER = """
import django
django.setup()
from portal.ops.metrics import request_observed
request_observed(method="POST", route="api/v1/jobs", status=201, seconds=0.02)
request_observed(method="POST", route="api/v1/jobs", status=503, seconds=0.5)
"""


def test_multiprocess_mode_sums_every_worker(client, cluster, tmp_path, monkeypatch):
    """Two gunicorn-like worker processes write their series to PROMETHEUS_MULTIPROC_DIR; a scrape in
    a third sees both, next to the database's series."""
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    environment.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", WORKER], check=True, env=environment)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    created = {"method": "POST", "route": "api/v1/jobs", "status": "201"}
    counts = {
        frozenset(s.labels.items()): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if s.name == "gpugrant_http_request_duration_seconds_count"
    }
    assert counts[frozenset(created.items())] == 2

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape(client)
    assert sample(samples, "gpugrant_http_request_duration_seconds_count", **created) == 2
    failed = {"method": "POST", "route": "api/v1/jobs", "status": "503"}
    assert sample(samples, "gpugrant_http_server_errors_total", **failed) == 2
    assert sample(samples, "gpugrant_gpus", gpu_type="A100", node="node-a", state="idle") == 8
