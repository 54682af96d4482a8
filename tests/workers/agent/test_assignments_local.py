"""Local attribution from real local-backend runs: the backend binds, the source reads its files."""

import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from scheduler.backends.base import JobSpec, Phase, PodSpec
from scheduler.backends.local import LocalBackend
from tests.workers.agent.helpers import wait_for
from workers.agent_activity import ProcessActivity, group_cpu_seconds
from workers.assignments import Binding, LocalAssignments

UUIDS = {index: f"SIMULATED-local-a100-{index}" for index in range(4)}
JOB = "7d2f6a52-91c4-4b7e-9a55-0e3c2b1d4f60"


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", textwrap.dedent(code))


def spec(job_id: str, command: tuple[str, ...], placements: list[tuple[str, tuple[int, ...]]]) -> JobSpec:
    return JobSpec(
        job_id=job_id,
        name="agent-test",
        organisation_id="org",
        allocation_id="alloc",
        kind="training",
        image="python:3.11",
        command=command,
        environment={},
        gpu_type="A100",
        gpus_per_pod=len(placements[0][1]),
        pods=tuple(PodSpec(node, gpus, rank) for rank, (node, gpus) in enumerate(placements)),
        max_runtime_seconds=60,
    )


@pytest.fixture
def backend(tmp_path, settings):
    settings.GPUGRANT_LOCAL_GPUS = "A100:4,H100:4"
    local = LocalBackend(tmp_path / "local-backend", nvidia_smi=None, stop_grace_seconds=1.0)
    yield local
    for job_dir in local.root.glob("*"):
        local.stop(job_dir.name, "test over")


def run_dir(backend: LocalBackend, job_id: str) -> Path:
    return backend.root / job_id / json.loads((backend.root / job_id / "current").read_text())["run"]


def started(run: Path, rank: int = 0) -> dict:
    """The rank's child record, once its runner has started the command (a moment after bind returns)."""
    return wait_for(
        lambda: (
            (run / f"child-{rank}.json").exists() and json.loads((run / f"child-{rank}.json").read_text())
        ),
        "the command to start",
    )


def test_edges_are_the_runner_start_record_and_the_exit_record(backend):
    command = python("""
        import pathlib, time
        while not pathlib.Path("release").exists():  # in the job's workspace, which the sandbox shows it
            time.sleep(0.02)
    """)
    backend.bind(spec(JOB, command, [("local-a100", (1, 2)), ("local-h100", (0,))]))
    source = LocalAssignments(backend.root, "local-a100", UUIDS)
    run = run_dir(backend, JOB)
    release = run / "work" / "release"
    bound_at = (run / "runner-0.json").stat().st_mtime
    child = started(run)

    running = source.bindings(now=bound_at + 1)
    assert running == [
        Binding(JOB, "SIMULATED-local-a100-1", 1, bound_at, None),
        Binding(JOB, "SIMULATED-local-a100-2", 2, bound_at, None),
    ]  # rank 1 runs on local-h100: another agent's
    assert source.process_groups() == {
        uuid: child for uuid in ("SIMULATED-local-a100-1", "SIMULATED-local-a100-2")
    }

    release.touch()
    wait_for(lambda: backend.statuses([JOB])[0].phase == Phase.SUCCEEDED, "the job to succeed")
    finished_at = json.loads((run / "exit-0.json").read_text())["finished_at"]
    assert finished_at > bound_at
    ended = source.bindings(now=finished_at + 5)
    assert ended == [
        Binding(JOB, "SIMULATED-local-a100-1", 1, bound_at, finished_at),
        Binding(JOB, "SIMULATED-local-a100-2", 2, bound_at, finished_at),
    ]
    assert source.process_groups() == {}
    # A new source (an agent restart) reads the same edges from the same files.
    assert LocalAssignments(backend.root, "local-a100", UUIDS).bindings(now=finished_at + 500) == ended


def test_a_rank_killed_without_an_exit_record_is_released_when_first_seen_dead(backend):
    backend.bind(spec(JOB, python("import time; time.sleep(60)"), [("local-a100", (0,))]))
    run = run_dir(backend, JOB)
    child = started(run)
    source = LocalAssignments(backend.root, "local-a100", UUIDS)
    assert [binding.released_at for binding in source.bindings(now=1000.0)] == [None]
    # The machine "crashes": the runner and the command die with no exit record.
    runner = json.loads((run / "runner-0.json").read_text())
    os.killpg(child["pgid"], signal.SIGKILL)
    os.kill(runner["pid"], signal.SIGKILL)
    wait_for(lambda: source.bindings(now=2000.0)[0].released_at is not None, "the rank to be seen dead")
    assert not (run / "exit-0.json").exists()
    assert source.bindings(now=3000.0)[0].released_at == 2000.0  # the first time it was seen so, kept


def test_no_state_folder_and_unstarted_runs_give_no_bindings(tmp_path):
    assert LocalAssignments(tmp_path / "absent", "local-a100", UUIDS).bindings(now=1.0) == []
    run = tmp_path / "state" / JOB / "run-1"
    run.mkdir(parents=True)
    (run.parent / "current").write_text(json.dumps({"run": "run-1"}))
    (run / "spec.json").write_text(
        json.dumps({"job_id": JOB, "ranks": [{"node": "local-a100", "gpu_indices": [0]}]})
    )
    assert LocalAssignments(tmp_path / "state", "local-a100", UUIDS).bindings(now=1.0) == []


def test_process_activity_follows_the_cpu_use_of_the_job_s_process_group(backend):
    busy = python("while True: pass")
    backend.bind(spec(JOB, busy, [("local-a100", (3,))]))
    started(run_dir(backend, JOB))
    source = LocalAssignments(backend.root, "local-a100", UUIDS)
    source.bindings(now=1.0)
    pgid = source.process_groups()["SIMULATED-local-a100-3"]["pgid"]
    start = group_cpu_seconds(pgid)
    wait_for(lambda: group_cpu_seconds(pgid) > start + 0.2, "the busy loop to use CPU")

    clock = [0.0]
    cpu = [10.0]
    activity = ProcessActivity(
        source.process_groups, cpu_seconds=lambda group: cpu[0], clock=lambda: clock[0]
    )
    assert activity("SIMULATED-local-a100-3") == 0.0  # the first look only sets the base
    clock[0], cpu[0] = 2.0, 11.5
    assert activity("SIMULATED-local-a100-3") == 0.75
    clock[0], cpu[0] = 3.0, 14.0
    assert activity("SIMULATED-local-a100-3") == 1.0  # several cores: capped
    assert activity("SIMULATED-local-a100-0") == 0.0  # nothing bound there

    # Unscripted, from /proc: a busy loop keeps about one core busy.
    real = ProcessActivity(source.process_groups)
    assert real("SIMULATED-local-a100-3") == 0.0
    wait_for(lambda: real("SIMULATED-local-a100-3") > 0.5, "the busy loop to show as activity")
