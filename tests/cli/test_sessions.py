"""gpugrant session launch, list, status and stop, against the live portal — and another organisation's
session, which is not found."""

import json
import re

import pytest

from portal.environments.models import Environment
from scheduler.cycle import run_cycle
from scheduler.models import InteractiveSession, Job
from scheduler.sessions import session_launch
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db(transaction=True)


def fields(output: str) -> dict[str, str]:
    return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in output.splitlines() if "  " in line)


@pytest.fixture
def jupyter(db):
    return Environment.objects.create(
        name="jupyterlab-4", display_name="JupyterLab 4", image="quay.io/jupyter/pytorch-notebook:cuda12",
        cuda_version="12.4", for_training=False, for_sessions=True,
    )  # fmt: skip


def launch(cli, allocation, *extra):
    return cli(
        "session", "launch", "--allocation", allocation.public_id, "--environment", "jupyterlab-4",
        "--gpu-type", "A100", "--minutes", "90", *extra,
    )  # fmt: skip


def test_it_launches_a_session_that_waits_then_opens(cli, nodes, owner, allocation, jupyter, live_server):
    submit(owner, allocation, gpus_per_pod=8, name="big-run")  # fills the scripted node's GPUs
    run_cycle(backend=nodes)
    launched = launch(cli, allocation)
    assert launched.code == 0, launched.stderr
    session = Job.objects.get(kind="interactive")
    assert launched.stdout.startswith(f"Launched session {session.public_id}: queued.")
    assert (session.gpus_per_pod, session.max_runtime_minutes) == (1, 90)
    run_cycle(backend=nodes)

    waiting = fields(cli("session", "status", session.public_id).stdout)
    assert waiting["state"] == "queued: waiting in the queue"
    assert waiting["queue"].startswith("position 1 among A100 jobs, estimated start 20")
    assert "open" not in waiting and waiting["idle limit"] == "30 min"

    listed = cli("session", "list")
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["ID", "STATE", "GPUS"]
    assert row.split()[:2] == [str(session.public_id), "queued"] and "position 1" in row

    Job.objects.filter(pk=session.pk).update(state="running")
    InteractiveSession.objects.filter(job=session).update(socket_path="/tmp/s.sock")
    running = fields(cli("session", "status", session.public_id).stdout)
    assert running["open"] == f"{live_server.url}/sessions/{session.public_id}/"
    assert "queue" not in running
    as_json = json.loads(cli("session", "list", "--json").stdout)
    assert [s["id"] for s in as_json] == [str(session.public_id)]


def test_a_launch_beyond_the_cap_names_the_option(cli, nodes, allocation, jupyter):
    result = launch(cli, allocation, "--gpus", "2")
    assert result.code == 2
    assert "--gpus: Sessions of this allocation may hold 1 GPUs at once; 0 are in sessions." in result.stderr
    assert "Nothing was launched." in result.stderr
    unknown = cli(
        "session", "launch", "--allocation", allocation.public_id, "--environment", "nope", "--gpu-type", "A100"
    )  # fmt: skip
    assert unknown.code == 2 and "--environment:" in unknown.stderr
    assert not Job.objects.filter(kind="interactive").exists()


def test_stop_ends_a_queued_session(cli, nodes, allocation, jupyter):
    launch(cli, allocation)
    session = Job.objects.get(kind="interactive")
    result = cli("session", "stop", session.public_id)
    assert result.code == 0
    assert result.stdout == f"Stopped session {session.public_id}; its notebooks stay in your workspace.\n"
    assert Job.objects.get(pk=session.pk).state == "cancelled"
    assert cli("session", "list").stdout.splitlines()[1].split()[1] == "cancelled"


def test_another_organisations_session_is_not_found(cli, nodes, outsider, other_allocation, jupyter):
    theirs = session_launch(
        user=outsider, allocation=other_allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=60,
    )  # fmt: skip
    for command in ("status", "stop"):
        result = cli("session", command, theirs.public_id)
        assert result.code == 4, (command, result.stderr)
    assert cli("session", "list").stdout == "No sessions yet.\n"
