"""The local backend with real subprocesses: tiny Python commands, waited on with bounded polling."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scheduler.backends import local_runner
from scheduler.backends.base import BindError, JobSpec, Phase, PodSpec
from scheduler.backends.local import LocalBackend, guess_gpu_type, simulated_nodes

TERMINAL = {Phase.SUCCEEDED, Phase.FAILED, Phase.TIMED_OUT, Phase.STOPPED, Phase.LOST}
WAIT_SECONDS = 20


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", textwrap.dedent(code))


def job(
    job_id: str,
    command: tuple[str, ...],
    *,
    pods: int = 1,
    node: str = "local-a100",
    gpus: tuple[int, ...] = (0,),
    max_runtime: int = 60,
    environment: dict[str, str] | None = None,
) -> JobSpec:
    placements = tuple(
        PodSpec(node, tuple(index + rank * len(gpus) for index in gpus), rank) for rank in range(pods)
    )
    return JobSpec(
        job_id=job_id,
        name=job_id,
        organisation_id="org",
        allocation_id="alloc",
        kind="training",
        image="python:3.11",
        command=command,
        environment=environment or {},
        gpu_type="A100",
        gpus_per_pod=len(gpus),
        pods=placements,
        max_runtime_seconds=max_runtime,
    )


def wait_for(condition, what: str, timeout: float = WAIT_SECONDS):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def status_of(backend: LocalBackend, job_id: str):
    found = backend.statuses([job_id])
    return found[0] if found else None


def wait_for_phase(backend: LocalBackend, job_id: str, phases: set[Phase]):
    return wait_for(
        lambda: (status := status_of(backend, job_id)) is not None and status.phase in phases and status,
        f"{job_id} to reach {sorted(phases)}",
    )


def run_dir(backend: LocalBackend, job_id: str) -> Path:
    job_dir = backend.root / job_id
    return job_dir / json.loads((job_dir / "current").read_text())["run"]


def alive(pid: int) -> bool:
    return local_runner.process_alive(pid, None)


def host_pid(group: int, job_pid: int) -> int:
    """The host's pid of the process of ``group`` that the job knows as ``job_pid`` (its own PID namespace's)."""
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except (OSError, ValueError):
            continue
        namespace_pids = next(line for line in status.splitlines() if line.startswith("NSpid:")).split()[1:]
        if int(stat[stat.rindex(")") + 2 :].split()[2]) == group and int(namespace_pids[-1]) == job_pid:
            return int(entry.name)
    pytest.fail(f"no process {job_pid} in group {group}")


def wait_for_output(backend: LocalBackend, job_id: str, text: str) -> str:
    return wait_for(
        lambda: (output := backend.logs(job_id, 100_000)) and text in output and output, repr(text)
    )


def _kill_everything(root: Path) -> None:
    """Whatever a test left running: SIGKILL each command's group and each runner."""
    for record_path in root.glob("*/run-*/child-*.json"):
        local_runner.signal_group(local_runner.read_json(record_path), signal.SIGKILL)
    for record_path in root.glob("*/run-*/runner-*.json"):
        record = local_runner.read_json(record_path)
        if record and local_runner.process_alive(record["pid"], record["identity"]):
            os.kill(record["pid"], signal.SIGKILL)


@pytest.fixture
def local(tmp_path, settings):
    settings.GPUGRANT_LOCAL_GPUS = "A100:4,H100:4"
    backend = LocalBackend(tmp_path / "local-backend", nvidia_smi=None, stop_grace_seconds=1.0)
    yield backend
    for job_dir in backend.root.glob("*"):
        backend.stop(job_dir.name, "test over")
    _kill_everything(backend.root)


@pytest.fixture
def fake_nvidia_smi(tmp_path) -> str:
    """An nvidia-smi that reports two H100s, so that the real-GPU path runs without hardware."""
    script = tmp_path / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        "echo '0, NVIDIA H100 80GB HBM3, GPU-11111111-2222-3333-4444-555555555555'\n"
        "echo '1, NVIDIA H100 80GB HBM3, GPU-66666666-7777-8888-9999-000000000000'\n"
    )
    script.chmod(0o755)
    return str(script)


# --- outcomes ---------------------------------------------------------------------------------------


def test_it_runs_a_command_to_success(local):
    local.bind(job("ok", python("print('hello from the job')")))

    status = wait_for_phase(local, "ok", TERMINAL)

    assert (status.phase, status.exit_code) == (Phase.SUCCEEDED, 0)
    assert "hello from the job" in local.logs("ok", 1000)


def test_it_reports_failure_with_the_exit_code(local):
    local.bind(job("fails", python("import sys; print('bad input'); sys.exit(3)")))

    status = wait_for_phase(local, "fails", TERMINAL)

    assert (status.phase, status.exit_code) == (Phase.FAILED, 3)
    assert "exited with code 3" in status.reason
    assert "bad input" in local.logs("fails", 1000)


def test_it_reports_a_command_that_cannot_start(local):
    local.bind(job("missing", ("/nonexistent/gpugrant-no-such-program", "--flag")))

    status = wait_for_phase(local, "missing", TERMINAL)

    assert (status.phase, status.exit_code) == (Phase.FAILED, 127)
    assert "cannot start '/nonexistent/gpugrant-no-such-program'" in status.reason
    assert "No such file" in local.logs("missing", 1000)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (job("empty", ()), "no command"),
        (job("unknown-node", python("pass"), node="elsewhere"), "no local node"),
        (job("bad-gpu", python("pass"), gpus=(4,)), "GPUs 0–3"),
        (job("../escape", python("pass")), "not usable"),
    ],
)
def test_it_refuses_what_it_can_see_is_wrong(local, spec, message):
    with pytest.raises(BindError, match=message):
        local.bind(spec)

    assert local.statuses([spec.job_id]) == []


def test_it_enforces_max_runtime_and_kills_the_command(local):
    local.bind(job("slow", python("import time; time.sleep(60)"), max_runtime=1))
    wait_for(lambda: (run_dir(local, "slow") / "child-0.json").exists(), "the command to start")
    child = local_runner.read_json(run_dir(local, "slow") / "child-0.json")

    status = wait_for_phase(local, "slow", TERMINAL)

    assert status.phase == Phase.TIMED_OUT
    assert "max runtime of 1 s" in status.reason
    assert not alive(child["pid"])


# --- stop ---------------------------------------------------------------------------------------


def test_stop_kills_the_whole_process_group(local):
    spawns_a_child = python(
        """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("grandchild", child.pid, flush=True)
        time.sleep(60)
        """
    )
    local.bind(job("tree", spawns_a_child))
    output = wait_for_output(local, "tree", "grandchild")
    command = local_runner.read_json(run_dir(local, "tree") / "child-0.json")["pid"]
    grandchild = host_pid(command, int(output.split("grandchild")[1].split()[0]))
    assert alive(grandchild) and alive(command)

    local.stop("tree", "cancelled by the user")

    status = status_of(local, "tree")
    assert (status.phase, status.reason) == (Phase.STOPPED, "cancelled by the user")
    wait_for(lambda: not alive(grandchild) and not alive(command), "the job's processes to go")
    exit_record = wait_for(
        lambda: local_runner.read_json(run_dir(local, "tree") / "exit-0.json"), "exit record"
    )
    assert exit_record["outcome"] == "stopped"


def test_stop_kills_a_command_that_ignores_sigterm(local):
    stubborn = python(
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM", flush=True)
        time.sleep(60)
        """
    )
    local.bind(job("stubborn", stubborn))
    wait_for_output(local, "stubborn", "ignoring SIGTERM")
    command = local_runner.read_json(run_dir(local, "stubborn") / "child-0.json")["pid"]

    local.stop("stubborn", "preempted")

    assert status_of(local, "stubborn").phase == Phase.STOPPED
    wait_for(lambda: not alive(command), "SIGKILL after the grace period")


def test_stop_is_idempotent_and_ignores_unknown_jobs(local):
    local.bind(job("twice", python("import time; time.sleep(60)")))
    wait_for_phase(local, "twice", {Phase.RUNNING})

    local.stop("twice", "first reason")
    local.stop("twice", "second reason")
    local.stop("never-bound", "whatever")

    assert status_of(local, "twice").reason == "first reason"
    assert local.statuses(["never-bound"]) == []


def test_stop_after_the_job_ended_keeps_its_outcome(local):
    local.bind(job("done", python("pass")))
    wait_for_phase(local, "done", TERMINAL)

    local.stop("done", "too late")

    assert status_of(local, "done").phase == Phase.SUCCEEDED


# --- logs ---------------------------------------------------------------------------------------


def test_logs_are_bounded_on_disk_and_when_read(tmp_path, settings):
    limit = 10_000
    backend = LocalBackend(tmp_path / "local-backend", nvidia_smi=None, log_limit_bytes=limit)
    chatty = python(
        """
        import sys
        for line in range(20_000):
            sys.stdout.write(f"line {line:06d} " + "x" * 80 + "\\n")
        print("THE END")
        """
    )
    try:
        backend.bind(job("chatty", chatty))
        assert wait_for_phase(backend, "chatty", TERMINAL).phase == Phase.SUCCEEDED

        output = backend.logs("chatty", 1_000_000)
        on_disk = sum(path.stat().st_size for path in run_dir(backend, "chatty").glob("rank-0.log*"))
    finally:
        _kill_everything(backend.root)

    assert len(output.encode()) <= limit
    assert output.endswith("THE END\n")
    assert "line 019999" in output and "line 000000" not in output
    assert on_disk <= 2 * limit
    assert len(backend.logs("chatty", 100).encode()) <= 100
    assert backend.logs("chatty", 100).endswith("THE END\n")


def test_logs_of_several_pods_come_rank_by_rank(local):
    local.bind(job("pair", python("import os; print('I am rank', os.environ['RANK'])"), pods=2))
    assert wait_for_phase(local, "pair", TERMINAL).phase == Phase.SUCCEEDED

    output = local.logs("pair", 10_000)

    assert output.index("==> rank 0 <==") < output.index("I am rank 0")
    assert output.index("I am rank 0") < output.index("==> rank 1 <==") < output.index("I am rank 1")
    assert len(local.logs("pair", 60).encode()) <= 60


def test_logs_of_an_unknown_job_are_empty(local):
    assert local.logs("never-bound", 1000) == ""


# --- environment ----------------------------------------------------------------------------------

PRINT_ENV = python(
    """
    import json, os
    names = ["CUDA_VISIBLE_DEVICES", "GPUGRANT_SIMULATED_GPUS", "WORLD_SIZE", "RANK", "MASTER_ADDR",
             "MASTER_PORT", "GPUGRANT_JOB_ID", "USER_SETTING", "GPUGRANT_TEST_SECRET"]
    print("ENV", json.dumps({name: os.environ.get(name) for name in names}), flush=True)
    """
)


def job_environment(backend: LocalBackend, job_id: str) -> dict:
    assert wait_for_phase(backend, job_id, TERMINAL).phase == Phase.SUCCEEDED
    return json.loads(backend.logs(job_id, 10_000).split("ENV ", 1)[1].splitlines()[0])


def test_simulated_gpus_are_named_but_hidden_from_cuda(local, monkeypatch):
    monkeypatch.setenv("GPUGRANT_TEST_SECRET", "the worker's secret")
    local.bind(job("env", PRINT_ENV, gpus=(1, 2), environment={"USER_SETTING": "42"}))

    env = job_environment(local, "env")

    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["GPUGRANT_SIMULATED_GPUS"] == "1,2"
    assert (env["WORLD_SIZE"], env["RANK"], env["GPUGRANT_JOB_ID"]) == ("1", "0", "env")
    assert env["MASTER_ADDR"] == "127.0.0.1" and env["MASTER_PORT"].isdigit()
    assert env["USER_SETTING"] == "42"
    assert env["GPUGRANT_TEST_SECRET"] is None  # the worker's environment does not leak into jobs


def test_real_gpus_are_passed_as_cuda_visible_devices(tmp_path, fake_nvidia_smi, settings):
    # Unsandboxed: a sandboxed rank needs its GPUs' device nodes, which this machine lacks
    # (test_local_sandbox.py checks that path).
    settings.GPUGRANT_LOCAL_SANDBOX = "off"
    backend = LocalBackend(tmp_path / "local-backend", nvidia_smi=fake_nvidia_smi)
    [node] = backend.inventory()
    try:
        backend.bind(job("real", PRINT_ENV, node=node.name, gpus=(1,)))
        env = job_environment(backend, "real")
    finally:
        _kill_everything(backend.root)

    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["GPUGRANT_SIMULATED_GPUS"] is None


def test_each_pod_gets_its_rank(local):
    local.bind(job("ranks", PRINT_ENV, pods=2, gpus=(0, 1)))
    assert wait_for_phase(local, "ranks", TERMINAL).phase == Phase.SUCCEEDED

    output = local.logs("ranks", 10_000)
    envs = [json.loads(line.removeprefix("ENV ")) for line in output.splitlines() if line.startswith("ENV ")]

    assert [(env["RANK"], env["WORLD_SIZE"], env["GPUGRANT_SIMULATED_GPUS"]) for env in envs] == [
        ("0", "2", "0,1"),
        ("1", "2", "2,3"),
    ]
    assert envs[0]["MASTER_PORT"] == envs[1]["MASTER_PORT"]


def test_a_failing_pod_ends_its_siblings(local):
    rank_one_fails = python(
        """
        import os, sys, time
        print("pid", os.getpid(), flush=True)
        if os.environ["RANK"] == "1":
            time.sleep(0.5)
            sys.exit(3)
        time.sleep(60)
        """
    )
    local.bind(job("gang", rank_one_fails, pods=2))
    wait_for(lambda: (run_dir(local, "gang") / "child-0.json").exists(), "rank 0 to start")
    rank_zero = local_runner.read_json(run_dir(local, "gang") / "child-0.json")["pid"]

    status = wait_for_phase(local, "gang", TERMINAL)

    assert (status.phase, status.exit_code) == (Phase.FAILED, 3)
    assert status.reason == "rank 1: exited with code 3"
    wait_for(lambda: not alive(rank_zero), "rank 0 to be ended")


# --- idempotency and other processes ---------------------------------------------------------------


def test_bind_is_idempotent(local):
    counts_starts = python(
        """
        import time
        with open("starts", "a") as f:  # in the job's workspace, which the sandbox lets it write
            f.write("started\\n")
        time.sleep(60)
        """
    )
    spec = job("once", counts_starts)

    local.bind(spec)
    local.bind(spec)
    LocalBackend(local.root, nvidia_smi=None).bind(spec)
    starts = run_dir(local, "once") / "work" / "starts"
    wait_for(lambda: starts.exists() and starts.read_text(), "the job to start")
    local.stop("once", "done looking")

    assert [path.name for path in (local.root / "once").glob("run-*")] == ["run-1"]
    assert starts.read_text() == "started\n"


def test_another_process_sees_and_stops_the_same_job(local):
    local.bind(job("shared", python("import time; print('working', flush=True); time.sleep(60)")))
    wait_for_output(local, "shared", "working")
    other_worker = LocalBackend(local.root, nvidia_smi=None, stop_grace_seconds=1.0)

    assert status_of(other_worker, "shared").phase == Phase.RUNNING
    assert "working" in other_worker.logs("shared", 1000)

    other_worker.stop("shared", "cancelled elsewhere")

    assert status_of(local, "shared").phase == Phase.STOPPED


def test_a_job_is_lost_when_its_runner_is_killed(local):
    local.bind(job("orphan", python("import time; time.sleep(60)")))
    wait_for(lambda: (run_dir(local, "orphan") / "child-0.json").exists(), "the command to start")
    first_run = run_dir(local, "orphan")
    runner = local_runner.read_json(first_run / "runner-0.json")
    command = local_runner.read_json(first_run / "child-0.json")["pid"]

    os.kill(runner["pid"], signal.SIGKILL)

    status = wait_for_phase(local, "orphan", TERMINAL)
    assert status.phase == Phase.LOST
    assert "vanished without an exit record" in status.reason

    local.bind(job("orphan", python("import time; time.sleep(60)")))  # requeued: a fresh run

    assert run_dir(local, "orphan").name == "run-2"
    assert status_of(local, "orphan").phase == Phase.RUNNING
    wait_for(lambda: not alive(command), "the orphaned command to be killed")
    assert not first_run.exists()


def test_a_stopped_job_runs_again_when_bound_again(local):
    spec = job("preempted", python("import time; time.sleep(60)"))
    local.bind(spec)
    local.stop("preempted", "preempted")

    local.bind(spec)

    assert wait_for_phase(local, "preempted", {Phase.RUNNING, Phase.PENDING}).reason == ""
    assert run_dir(local, "preempted").name == "run-2"


def test_statuses_omit_jobs_never_bound(local):
    local.bind(job("known", python("pass")))

    assert [status.job_id for status in local.statuses(["unknown", "known", "../etc"])] == ["known"]


# --- inventory ----------------------------------------------------------------------------------


def test_inventory_has_one_simulated_node_per_gpu_type(tmp_path, settings):
    settings.GPUGRANT_LOCAL_GPUS = "A100:2,L40S:1"

    nodes = LocalBackend(tmp_path, nvidia_smi=None).inventory()

    assert [(node.name, node.gpu_type, node.gpu_count) for node in nodes] == [
        ("local-a100", "A100", 2),
        ("local-l40s", "L40S", 1),
    ]
    assert nodes[0].gpu_uuids == ("SIMULATED-local-a100-0", "SIMULATED-local-a100-1")


def test_inventory_without_nvidia_smi_falls_back_to_simulated_gpus(tmp_path, settings):
    settings.GPUGRANT_LOCAL_GPUS = "H100:8"

    nodes = LocalBackend(tmp_path, nvidia_smi="gpugrant-no-such-nvidia-smi").inventory()

    assert [(node.name, node.gpu_count) for node in nodes] == [("local-h100", 8)]


def test_inventory_with_nvidia_gpus_is_this_host(tmp_path, fake_nvidia_smi):
    [node] = LocalBackend(tmp_path, nvidia_smi=fake_nvidia_smi).inventory()

    assert node.name == socket.gethostname().lower()
    assert (node.gpu_type, node.gpu_count) == ("H100", 2)
    assert node.gpu_uuids[0] == "GPU-11111111-2222-3333-4444-555555555555"


def test_a_malformed_gpu_setting_is_refused():
    with pytest.raises(ValueError, match="A100:4"):
        simulated_nodes("A100=4")


@pytest.mark.parametrize(
    ("product", "gpu_type"),
    [
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA L40S", "L40S"),
        ("Tesla V100-SXM2-32GB", "V100"),
        ("NVIDIA GeForce RTX 4090", "RTX4090"),
    ],
)
def test_it_guesses_the_gpu_type_from_the_product_name(product, gpu_type):
    assert guess_gpu_type(product) == gpu_type


@pytest.mark.gpu
@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="needs a real NVIDIA GPU and nvidia-smi")
def test_it_finds_the_real_gpus_and_runs_on_them(tmp_path):
    backend = LocalBackend(tmp_path / "local-backend")
    [node] = backend.inventory()
    assert node.gpu_uuids[0].startswith("GPU-")
    try:
        backend.bind(job("on-gpu", PRINT_ENV, node=node.name, gpus=(0,)))
        env = job_environment(backend, "on-gpu")
    finally:
        _kill_everything(backend.root)
    assert env["CUDA_VISIBLE_DEVICES"] == "0"


def test_the_runner_does_not_import_django():
    probe = f"import sys, runpy; runpy.run_path({local_runner.__file__!r}); print('django' in sys.modules)"

    result = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"
