"""The agent as a process (python -m workers.agent) against a fake portal, metering real local-backend jobs."""

import json
import signal
import sys
import textwrap
import time
from collections import defaultdict

import pytest

from scheduler.backends.base import JobSpec, Phase, PodSpec
from scheduler.backends.local import LocalBackend
from tests.workers.agent.fake_portal import FakePortal
from tests.workers.agent.helpers import start_module, stop_process, wait_for
from workers.metering.meter import bound_gpu_seconds
from workers.spool import Spool

JOB = "9b1e0c44-2f6d-4e3a-8c1b-5d7e9f0a1b2c"
NODE = "local-a100"


def busy_until(release) -> tuple[str, ...]:
    code = f"""
        import pathlib
        release = pathlib.Path({str(release)!r})
        n = 0
        while True:
            n += 1
            if n % 100000 == 0 and release.exists():
                break
    """
    return (sys.executable, "-c", textwrap.dedent(code))


def job_spec(command) -> JobSpec:
    return JobSpec(
        job_id=JOB,
        name="metered",
        organisation_id="org",
        allocation_id="alloc",
        kind="training",
        image="python:3.11",
        command=command,
        environment={},
        gpu_type="A100",
        gpus_per_pod=2,
        pods=(PodSpec(NODE, (0, 1), 0),),
        max_runtime_seconds=120,
    )


@pytest.fixture
def backend(tmp_path, settings):
    settings.GPUGRANT_LOCAL_GPUS = "A100:4"
    local = LocalBackend(tmp_path / "local-backend", nvidia_smi=None, stop_grace_seconds=1.0)
    yield local
    for job_dir in local.root.glob("*"):
        local.stop(job_dir.name, "test over")


@pytest.fixture
def portal():
    with FakePortal() as fake:
        yield fake


@pytest.fixture
def agents(tmp_path, portal, backend):
    """start(report_interval) → a running agent process; every one is killed and reaped at the end."""
    started = []
    key_file = tmp_path / "node.key"
    key_file.write_text(portal.key + "\n")

    def start(report_interval: float = 0.5):
        arguments = [
            "--node", NODE, "--portal", portal.url, "--key-file", str(key_file), "--spool", str(tmp_path / "spool"),
            "--source", "local", "--local-state", str(backend.root), "--devices", "simulated",
            "--sample-interval", "0.1", "--report-interval", str(report_interval), "--log-level", "DEBUG",
        ]  # fmt: skip
        log = tmp_path / f"agent-{len(started)}.log"
        process = start_module("workers.agent", *arguments, log=log, GPUGRANT_LOCAL_GPUS="A100:4")
        started.append(process)
        wait_for(lambda: "node agent for" in log.read_text(), "the agent to start", process=process)
        return process

    yield start
    for process in started:
        stop_process(process)


def job_records(portal: FakePortal) -> dict[str, list[dict]]:
    by_gpu = defaultdict(list)
    with portal.lock:
        for record in portal.records.values():
            if record["job_id"] == JOB:
                by_gpu[record["gpu_uuid"]].append(record)
    for records in by_gpu.values():
        records.sort(key=lambda record: record["interval_start"])
    return by_gpu


def edges(backend: LocalBackend) -> tuple[float, float]:
    run = backend.root / JOB / json.loads((backend.root / JOB / "current").read_text())["run"]
    return (run / "runner-0.json").stat().st_mtime, json.loads((run / "exit-0.json").read_text())[
        "finished_at"
    ]


def test_kill_9_and_restart_meters_the_job_to_the_second_exactly_once(tmp_path, backend, portal, agents):
    first = agents()
    # Its release file is in its workspace: the sandbox shows it no other host folder.
    backend.bind(job_spec(busy_until("release")))
    release = backend.root / JOB / "run-1" / "work" / "release"
    wait_for(
        lambda: sum(map(len, job_records(portal).values())) >= 4,
        "records from the first agent",
        process=first,
    )
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)

    second = agents()
    already = sum(map(len, job_records(portal).values()))
    wait_for(
        lambda: sum(map(len, job_records(portal).values())) >= already + 4,
        "records after the restart",
        process=second,
    )
    release.touch()
    wait_for(lambda: backend.statuses([JOB])[0].phase == Phase.SUCCEEDED, "the job to end")
    bound_at, released_at = edges(backend)

    def final_records_in():
        records = job_records(portal)
        return len(records) == 2 and all(gpu[-1]["interval_end"] == released_at for gpu in records.values())

    wait_for(final_records_in, "the final records", process=second)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0

    records = job_records(portal)
    assert sorted(records) == ["SIMULATED-local-a100-0", "SIMULATED-local-a100-1"]
    for gpu_records in records.values():
        assert gpu_records[0]["interval_start"] == bound_at
        for before, after in zip(gpu_records, gpu_records[1:], strict=False):
            assert after["interval_start"] == before["interval_end"]  # no gap, no overlap across the kill
        assert sum(r["gpu_seconds"] for r in gpu_records) == bound_gpu_seconds(
            bound_at, released_at, bound_at, released_at
        )
        assert all(r["energy_mj"] > 0 and r["simulated"] for r in gpu_records)
        # Sequences run 0, 1, 2 … within each epoch (the simulated counter restarts with the agent: a new epoch).
        by_epoch = defaultdict(list)
        for r in gpu_records:
            by_epoch[r["epoch"]].append(r["sequence"])
        assert all(sequences == list(range(len(sequences))) for sequences in by_epoch.values())
        # The busy loop shows as load: simulated power follows the job's real CPU use. An idle job reads
        # about 0; on a loaded 2-core machine the loop may get only a third of a core, hence not 50.
        assert max(r["avg_utilisation_pct"] for r in gpu_records) > 10
    with Spool(tmp_path / "spool") as spool:
        assert spool.backlog().count == 0


def test_sigterm_finishes_the_current_interval_into_the_spool_and_exits_0(tmp_path, backend, portal, agents):
    portal.down = True  # whatever is reported stays in the spool, for us to read
    agent = agents(report_interval=60)  # no regular report during the test: only SIGTERM's
    backend.bind(job_spec(busy_until(tmp_path / "never")))
    bound_at = (backend.root / JOB / "run-1" / "runner-0.json").stat().st_mtime
    wait_for(lambda: time.time() > bound_at + 1.5, "the job to run a little")
    asked_at = time.time()
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=20) == 0
    with Spool(tmp_path / "spool") as spool:
        pending = [item.wire for item in spool.pending(100)]
    assert sorted(r["gpu_uuid"] for r in pending) == ["SIMULATED-local-a100-0", "SIMULATED-local-a100-1"]
    for r in pending:
        assert r["interval_start"] == bound_at
        assert asked_at <= r["interval_end"] <= asked_at + 10
        assert r["gpu_seconds"] == bound_gpu_seconds(bound_at, r["interval_end"], bound_at, None) >= 1
        assert r["energy_mj"] > 0
