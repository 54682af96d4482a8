"""gpugrant jobs, status and cancel — and another organisation's job, which is not found."""

import json
import re

import pytest

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db(transaction=True)


def fields(output: str) -> dict[str, str]:
    return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in output.splitlines())


def test_it_lists_jobs_as_a_table_with_filters(cli, nodes, owner, allocation):
    running = submit(owner, allocation, gpus_per_pod=8, name="big-run")
    run_cycle(backend=nodes)
    waiting = submit(owner, allocation, gpus_per_pod=8, name="next-run")
    run_cycle(backend=nodes)

    table = cli("jobs")
    assert table.code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "STATE", "GPUS", "QUEUE", "SUBMITTED", "(UTC)"]
    assert [row.split()[:3] for row in rows] == [
        [str(waiting.public_id), "next-run", "queued"],
        [str(running.public_id), "big-run", "scheduled"],
    ]
    assert "#1" in rows[0] and "8× A100" in rows[1]

    queued = json.loads(cli("jobs", "--state", "queued", "--json").stdout)
    assert [job["id"] for job in queued] == [str(waiting.public_id)]
    by_title = cli("jobs", "--allocation", "Korean LLM fine-tuning", "--limit", "1", "--json")
    assert [job["id"] for job in json.loads(by_title.stdout)] == [str(waiting.public_id)]
    none = cli("jobs", "--state", "failed")
    assert none.code == 0 and none.stdout == "No jobs match these filters.\n"


def test_a_bad_filter_is_a_usage_error(cli, nodes):
    result = cli("jobs", "--state", "sleeping")
    assert result.code == 2 and "invalid choice" in result.stderr and "--help" in result.stderr


def test_status_says_why_a_job_waits_and_where_it_runs(cli, nodes, owner, allocation):
    first = submit(owner, allocation, gpus_per_pod=8, name="big-run", minutes=60)
    run_cycle(backend=nodes)
    second = submit(owner, allocation, gpus_per_pod=8, name="next-run")
    run_cycle(backend=nodes)
    nodes.set_phase(str(first.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)

    waiting = cli("status", second.public_id)
    assert waiting.code == 0
    lines = fields(waiting.stdout)
    assert lines["state"] == "queued: waiting in the queue"
    assert lines["queue"].startswith("position 1 among A100 jobs, estimated start 20")
    second.refresh_from_db()
    reason = json.loads(cli("status", second.public_id, "--json").stdout)["wait_reason"]
    assert reason and lines["waiting"] == reason

    running = fields(cli("status", first.public_id).stdout)
    assert running["state"] == "running" and "queue" not in running and "waiting" not in running
    assert running["placement"] == "node-a: GPUs 0, 1, 2, 3, 4, 5, 6, 7"
    assert running["runtime"].endswith(" of 1 h (0 %)")


def test_cancel_ends_a_queued_job_and_refuses_an_ended_one(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    result = cli("cancel", job.public_id)
    assert result.code == 0 and result.stdout == f"Cancelled job {job.public_id}.\n"
    job.refresh_from_db()
    assert job.state == "cancelled"

    again = cli("cancel", job.public_id)
    assert again.code == 6 and "The job already ended (cancelled)." in again.stderr


def test_cancel_of_a_running_job_ends_it_once_the_backend_stops_it(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    result = cli("cancel", job.public_id)
    assert result.code == 0, result.stderr
    assert (str(job.public_id), "cancelled") in nodes.stopped
    # In tests the backend stops it and the portal reconciles before answering.
    assert result.stdout == f"Cancelled job {job.public_id}.\n"


def test_cancel_says_when_a_running_job_is_still_stopping(cli, nodes, owner, allocation, monkeypatch):
    monkeypatch.setattr("scheduler.services.stop_after_commit", lambda job: None)  # a slow backend
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    result = cli("cancel", job.public_id)
    assert result.code == 0
    assert result.stdout.startswith(f"Stopping job {job.public_id} (running); it ends as cancelled")
    assert fields(cli("status", job.public_id).stdout)["state"] == "running"


@pytest.mark.parametrize("command", ["status", "watch", "logs", "cancel"])
def test_another_organisations_job_is_not_found(cli, nodes, outsider, other_allocation, command):
    theirs = submit(outsider, other_allocation)
    result = cli(command, theirs.public_id)
    assert result.code == 4 and "Traceback" not in result.stderr and result.stderr.startswith("gpugrant: ")
    assert Job.objects.get(pk=theirs.pk).state == "queued"


@pytest.mark.parametrize("job_id", ["00000000-0000-0000-0000-000000000000", "../allocations", "nope"])
def test_an_unknown_or_malformed_id_is_not_found(cli, nodes, job_id):
    assert cli("status", job_id).code == 4
