"""The local backend's sandbox, attacked from inside real jobs (bubblewrap, user/mount/PID/IPC/network namespaces).

Each attack is a real job of one organisation trying to reach what belongs to the service or to another
organisation; it must get nothing, and the service must keep working.
"""

import json
import logging
import multiprocessing
import os
import socket
import sqlite3
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

from scheduler.backends import local_runner
from scheduler.backends.base import BindError, Phase
from scheduler.backends.local import LocalBackend, SandboxUnavailable
from scheduler.backends.local_uids import live_uids
from tests.scheduler.backends.test_local import (
    PRINT_ENV,
    TERMINAL,
    _kill_everything,
    fake_nvidia_smi,  # noqa: F401 - a fixture, used by name
    job,
    python,
    run_dir,
    wait_for,
    wait_for_output,
    wait_for_phase,
)
from workers.agent_activity import group_cpu_seconds

sandbox = pytest.mark.sandbox

SERVICE_VARIABLES = ("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "GPUGRANT_NODE_KEY")


@pytest.fixture
def service_var(tmp_path, settings):
    """The service's own state, laid out as in production under VAR_DIR, each file with a secret in it."""
    var = tmp_path / "var"
    settings.VAR_DIR = var
    secret = f"service-secret-{uuid.uuid4().hex}"
    (var / "node-keys").mkdir(parents=True)
    (var / "node-keys" / "local-a100.key").write_text(f"node-key-{secret}")
    (var / "agent-spool" / "local-a100").mkdir(parents=True)
    (var / "agent-spool" / "local-a100" / "records.jsonl").write_text(f"spool-{secret}")
    (var / "secret_key").write_text(secret)
    database = sqlite3.connect(var / "gpugrant.sqlite3")
    database.execute("create table api_key (secret text)")
    database.execute("insert into api_key values (?)", (f"db-{secret}",))
    database.commit()
    database.close()
    return var, secret


@pytest.fixture
def sandboxed(service_var, settings):
    settings.GPUGRANT_LOCAL_SANDBOX = "required"  # never quietly unsandboxed
    settings.GPUGRANT_LOCAL_GPUS = "A100:4,H100:4"
    var, _ = service_var
    backend = LocalBackend(var / "local-backend", nvidia_smi=None, stop_grace_seconds=1.0)
    yield backend
    for job_dir in backend.root.glob("*"):
        if job_dir.is_dir():
            backend.stop(job_dir.name, "test over")
    _kill_everything(backend.root)
    leased = {int(path.name) for path in (backend.root / ".sandbox-uids").glob("[0-9]*")}
    wait_for(lambda: not leased & live_uids(), "the test's sandboxes to end")


class Listener:
    """A real TCP server on the host's loopback, standing in for the service's PostgreSQL/Redis/RabbitMQ."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self):
        self.socket.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def _configured_service_ports() -> list[tuple[str, int]]:
    """The PostgreSQL, Redis and RabbitMQ ports this test run is configured with (CI sets all three)."""
    ports = []
    for name, default_port in (("DATABASE_URL", 5432), ("REDIS_URL", 6379), ("CELERY_BROKER_URL", 5672)):
        url = urlsplit(os.environ.get(name, ""))
        if url.scheme and url.hostname:
            ports.append((url.hostname, url.port or default_port))
    return ports


ATTACK = python(
    """
    import json, os, socket, sqlite3, sys
    plan = json.loads(sys.argv[1])
    got = {}

    def attempt(name, action):
        try:
            got[name] = action()
        except Exception:
            got[name] = None

    def connect(host, port):
        with socket.create_connection((host, port), timeout=2):
            return "connected"

    def connect_unix(path):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(path)
            return "connected"

    def append(path):
        with open(path, "ab") as file:
            file.write(b"tampered")
        return "written"

    for path in plan["read"]:
        attempt("read " + path, lambda: open(path, "rb").read().decode("utf-8", "replace"))
    for path in plan["list"]:
        attempt("list " + path, lambda: sorted(os.listdir(path)))
    for path in plan["sqlite"]:
        attempt("sqlite " + path, lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute(
            "select * from api_key").fetchall())
    for host, port in plan["connect"]:
        attempt(f"connect {host}:{port}", lambda: connect(host, port))
    for path in plan["unix"]:
        attempt("unix " + path, lambda: connect_unix(path))
    for path in plan["write"]:
        attempt("write " + path, lambda: append(path))
    for path in plan["delete"]:
        attempt("delete " + path, lambda: os.unlink(path) or "deleted")
    secrets = [reversed_secret[::-1] for reversed_secret in plan["reversed secrets"]]
    leaks = set()
    for pid in os.listdir("/proc"):
        for part in ("environ", "cmdline") if pid.isdigit() else ():
            try:
                data = open(f"/proc/{pid}/{part}", "rb").read()
            except OSError:
                continue
            leaks.update(secret for secret in secrets if secret.encode() in data)
    got["secrets in /proc"] = sorted(leaks) or None
    got["service variables"] = sorted(set(plan["variables"]) & set(os.environ)) or None
    print("REPORT " + json.dumps(got), flush=True)
    """
)

VICTIM = python(
    """
    import os, sys, time
    secret = sys.argv[1]
    checkpoints = os.environ.get("GPUGRANT_CHECKPOINT_DIR") or "checkpoints"
    os.makedirs(checkpoints, exist_ok=True)
    with open(os.path.join(checkpoints, "weights.bin"), "w") as file:
        file.write(secret)
    with open("workspace-secret.txt", "w") as file:
        file.write(secret)
    print("victim ready", secret, flush=True)
    time.sleep(120)
    """
)


@sandbox
def test_a_job_of_another_organisation_gets_nothing_of_the_service_or_of_other_jobs(
    sandboxed, service_var, listener, monkeypatch, tmp_path
):
    var, service_secret = service_var
    for name in SERVICE_VARIABLES:
        if name not in os.environ:
            monkeypatch.setenv(name, f"{name.lower()}-{service_secret}")
    victim_secret = f"victim-{uuid.uuid4().hex}"
    sandboxed.bind(replace(job("victim", (*VICTIM, victim_secret)), organisation_id="org-acme"))
    wait_for_output(sandboxed, "victim", "victim ready")
    victim_run = run_dir(sandboxed, "victim")
    [victim_weights] = wait_for(lambda: list(sandboxed.root.glob("victim/**/weights.bin")), "checkpoint")
    unix_server = socket.socket(socket.AF_UNIX)
    unix_server.bind(str(var / "db.sock"))
    unix_server.listen()
    repository_var = Path(django_settings.BASE_DIR) / "var"
    plan = {
        "read": [
            str(var / "secret_key"),
            str(var / "node-keys" / "local-a100.key"),
            str(var / "agent-spool" / "local-a100" / "records.jsonl"),
            str(victim_run / "work" / "workspace-secret.txt"),
            str(victim_weights),
            str(victim_run / "rank-0.log"),
            str(victim_run / "spec.json"),
            *[
                str(path)
                for path in (repository_var / "secret_key", repository_var / "node-keys")
                if path.exists()
            ],
        ],
        "list": [str(var), str(var / "node-keys"), str(sandboxed.root), str(victim_run / "work"), "/var/run"],
        "sqlite": [str(var / "gpugrant.sqlite3")]
        + [str(path) for path in [repository_var / "gpugrant.sqlite3"] if path.exists()],
        "connect": [("127.0.0.1", listener.port), *_configured_service_ports()],
        "unix": [str(var / "db.sock"), "/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432"],
        "write": [str(victim_weights)],
        "delete": [str(var / "secret_key"), str(var / "node-keys" / "local-a100.key")],
        # Reversed: the attack's own command line (in its /proc) must not hold what it looks for.
        "reversed secrets": [service_secret[::-1], victim_secret[::-1]],
        "variables": list(SERVICE_VARIABLES),
    }
    sandboxed.bind(replace(job("attacker", (*ATTACK, json.dumps(plan))), organisation_id="org-rival"))

    wait_for_phase(sandboxed, "attacker", TERMINAL)
    output = sandboxed.logs("attacker", 1_000_000)
    report = json.loads(output.split("REPORT ", 1)[1].splitlines()[0])

    obtained = sorted(name for name, value in report.items() if value not in (None, [], ""))
    assert obtained == [], f"the job obtained: {obtained}"
    assert service_secret not in output and victim_secret not in output
    # The service keeps working: its files are intact, its port answers, the victim still runs.
    assert (var / "secret_key").read_text() == service_secret
    assert (var / "node-keys" / "local-a100.key").exists()
    assert victim_weights.read_text() == victim_secret
    assert listener.accepted == 0
    socket.create_connection(("127.0.0.1", listener.port), timeout=2).close()
    wait_for(lambda: listener.accepted == 1, "the service's own connection")
    assert sandboxed.statuses(["victim"])[0].phase == Phase.RUNNING
    assert victim_secret in sandboxed.logs("victim", 10_000)
    unix_server.close()


# --- uids ---------------------------------------------------------------------------------------------

PRINT_IDS = python(
    """
    import os, time
    print("ids", os.getuid(), os.getgid(), os.getgroups(), flush=True)
    time.sleep(120)
    """
)


def _bind_at_once(root: str, job_id: str, barrier) -> None:
    """In a process of its own, as a Celery worker would: bind the moment every other process is ready."""
    backend = LocalBackend(root, nvidia_smi=None, stop_grace_seconds=1.0)
    barrier.wait(timeout=30)
    backend.bind(job(job_id, PRINT_IDS))


def _group_uids(pgid: int) -> set[int]:
    """The real and effective uids of every process of a process group, as the host sees them."""
    uids = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except (OSError, ValueError):
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:
            line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            uids.update(int(value) for value in line.split()[1:])
    return uids


@sandbox
def test_jobs_bound_at_once_by_several_workers_each_run_as_a_uid_of_their_own(sandboxed, settings):
    jobs = [f"at-once-{index}" for index in range(6)]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(jobs))
    workers = [context.Process(target=_bind_at_once, args=(str(sandboxed.root), j, barrier)) for j in jobs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * len(jobs)

    uids = {}
    for job_id in jobs:
        output = wait_for_output(sandboxed, job_id, "ids ")
        uid, gid, groups = output.split("ids ", 1)[1].split(" ", 2)
        uids[job_id] = int(uid)
        assert (int(gid), groups.strip()) == (int(uid), "[]")  # no supplementary groups
        # As the host sees it: every process of the rank (bubblewrap included) runs as that uid, not root.
        group = local_runner.read_json(run_dir(sandboxed, job_id) / "child-0.json")["pgid"]
        assert _group_uids(group) == {int(uid)}
        assert (run_dir(sandboxed, job_id) / "work").stat().st_uid == int(uid)
    first = settings.GPUGRANT_LOCAL_SANDBOX_UID_BASE
    assert len(set(uids.values())) == len(jobs)
    assert all(first <= uid < first + settings.GPUGRANT_LOCAL_SANDBOX_UID_COUNT for uid in uids.values())


@sandbox
def test_a_uid_is_handed_out_again_only_once_its_job_has_ended(sandboxed, settings):
    settings.GPUGRANT_LOCAL_SANDBOX_UID_BASE += 100_000  # two uids no other test's jobs use
    settings.GPUGRANT_LOCAL_SANDBOX_UID_COUNT = 2
    backend = LocalBackend(sandboxed.root, nvidia_smi=None, stop_grace_seconds=1.0)
    backend.bind(job("first", PRINT_IDS))
    backend.bind(job("second", PRINT_IDS))
    first_uid = int(wait_for_output(backend, "first", "ids ").split("ids ", 1)[1].split()[0])

    with pytest.raises(BindError, match="all 2 job uids"):
        backend.bind(job("third", PRINT_IDS))

    backend.stop("first", "preempted")
    wait_for(lambda: not _group_uids_alive(first_uid), "the first job's processes to go")
    backend.bind(job("third", PRINT_IDS))
    assert int(wait_for_output(backend, "third", "ids ").split("ids ", 1)[1].split()[0]) == first_uid


# --- limits ---------------------------------------------------------------------------------------------

OVER_THE_LIMIT = {
    "memory": (
        "GPUGRANT_LOCAL_MEMORY_MB_PER_GPU",
        256,
        """
        small = bytearray(64 << 20)
        print("64 MiB: fine", flush=True)
        big = bytearray(1 << 30)
        """,
        "MemoryError",
    ),
    "processes": (
        "GPUGRANT_LOCAL_PROCESSES_PER_GPU",
        16,
        """
        import os, signal
        children = []
        try:
            for _ in range(200):
                pid = os.fork()
                if pid == 0:
                    signal.pause()
                children.append(pid)
        finally:
            print("forked", len(children), flush=True)
            for pid in children:
                os.kill(pid, signal.SIGKILL)
        """,
        "BlockingIOError",
    ),
    "open files": (
        "GPUGRANT_LOCAL_OPEN_FILES",
        64,
        """
        files = []
        try:
            while len(files) < 1000:
                files.append(open("/dev/null"))
        finally:
            print("opened", len(files), flush=True)
        """,
        "Too many open files",
    ),
    "shared memory": (
        "GPUGRANT_LOCAL_SHM_MB",
        1,
        """
        with open("/dev/shm/big", "wb") as file:
            file.write(b"x" * (8 << 20))
        """,
        "No space left on device",
    ),
}


@sandbox
@pytest.mark.parametrize("limit", sorted(OVER_THE_LIMIT))
def test_a_job_that_exceeds_a_limit_fails_and_nothing_else_does(sandboxed, settings, limit):
    setting, value, code, error = OVER_THE_LIMIT[limit]
    setattr(settings, setting, value)
    backend = LocalBackend(sandboxed.root, nvidia_smi=None, stop_grace_seconds=1.0)

    backend.bind(job("greedy", python(code)))
    status = wait_for_phase(backend, "greedy", TERMINAL)
    backend.bind(job("modest", python("print('within the limits', flush=True)")))

    output = backend.logs("greedy", 100_000)
    assert status.phase == Phase.FAILED and error in output, output
    if limit == "processes":
        assert int(output.split("forked ", 1)[1].split()[0]) < value + 2  # 16 per GPU, + the sandbox's own 2
    if limit == "open files":
        assert int(output.split("opened ", 1)[1].split()[0]) < value
    assert wait_for_phase(backend, "modest", TERMINAL).phase == Phase.SUCCEEDED


@sandbox
def test_the_process_limit_is_per_job_not_per_host(sandboxed, settings):
    settings.GPUGRANT_LOCAL_PROCESSES_PER_GPU = 16
    backend = LocalBackend(sandboxed.root, nvidia_smi=None, stop_grace_seconds=1.0)
    hog = """
        import os, signal
        count = 0
        try:
            while True:
                if os.fork() == 0:
                    signal.pause()
                count += 1
        except BlockingIOError:
            print("holding", count, flush=True)
            signal.pause()
        """
    backend.bind(job("hog", python(hog)))
    wait_for_output(backend, "hog", "holding")

    backend.bind(job("neighbour", python("import os; os.fork() or print('forked fine', flush=True)")))

    assert wait_for_phase(backend, "neighbour", TERMINAL).phase == Phase.SUCCEEDED
    assert "forked fine" in backend.logs("neighbour", 1000)


# --- network --------------------------------------------------------------------------------------------

RENDEZVOUS = python(
    """
    import os, socket, time
    port = int(os.environ["MASTER_PORT"])
    print("interfaces", sorted(name for _, name in socket.if_nameindex()), flush=True)
    if os.environ["RANK"] == "0":
        with socket.create_server(("127.0.0.1", port)) as server:
            print("rank 0 listening", flush=True)
            connection, _ = server.accept()
            print("rank 0 got", connection.recv(100).decode(), flush=True)
            time.sleep(120)  # keeps the port open for the outsider
    else:
        give_up = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
                    connection.sendall(b"hello from rank 1")
                    break
            except ConnectionRefusedError:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.05)  # rank 0 not listening yet
    """
)


@sandbox
def test_the_ranks_of_a_job_reach_each_other_and_no_other_job_reaches_them(sandboxed):
    sandboxed.bind(job("pair", RENDEZVOUS, pods=2))
    wait_for_output(sandboxed, "pair", "rank 0 got hello from rank 1")
    port = json.loads((run_dir(sandboxed, "pair") / "spec.json").read_text())["ranks"][0]["env"][
        "MASTER_PORT"
    ]

    outsider = python(f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)")
    sandboxed.bind(job("outsider", outsider))

    assert wait_for_phase(sandboxed, "outsider", TERMINAL).phase == Phase.FAILED
    assert "ConnectionRefusedError" in sandboxed.logs("outsider", 10_000)
    assert "interfaces ['lo']" in sandboxed.logs("pair", 10_000)
    with pytest.raises(ConnectionRefusedError):  # nor the host: the port is the job's alone
        socket.create_connection(("127.0.0.1", int(port)), timeout=2)


# --- checkpoints, signals, requeue ------------------------------------------------------------------------

RESUMABLE = python(
    """
    import os, signal, sys, time
    checkpoints = os.environ["GPUGRANT_CHECKPOINT_DIR"]
    path = os.path.join(checkpoints, "state")
    print("found", open(path).read() if os.path.exists(path) else "nothing", flush=True)

    def on_sigterm(signum, frame):
        with open(path, "w") as file:
            file.write(f"saved on SIGTERM by uid {os.getuid()}")
        print("checkpointed", flush=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_sigterm)
    print("working", flush=True)
    time.sleep(120)
    """
)


@sandbox
def test_a_preempted_job_gets_sigterm_checkpoints_and_finds_its_checkpoint_when_requeued(sandboxed):
    spec = job("resumable", RESUMABLE)
    sandboxed.bind(spec)
    wait_for_output(sandboxed, "resumable", "working")
    first_uid = json.loads((run_dir(sandboxed, "resumable") / "spec.json").read_text())["ranks"][0][
        "sandbox"
    ]["uid"]

    sandboxed.stop("resumable", "preempted")

    exit_record = wait_for(
        lambda: local_runner.read_json(run_dir(sandboxed, "resumable") / "exit-0.json"), "exit"
    )
    assert exit_record["outcome"] == "stopped"
    assert "checkpointed" in sandboxed.logs("resumable", 10_000)
    wait_for(lambda: not _group_uids_alive(first_uid), "the first run's processes to go")
    sandboxed.bind(job("squatter", PRINT_IDS))  # takes the freed uid: the requeued run gets another one
    sandboxed.bind(spec)
    output = wait_for_output(sandboxed, "resumable", "working")
    assert run_dir(sandboxed, "resumable").name == "run-2"
    assert f"found saved on SIGTERM by uid {first_uid}" in output
    checkpoint = sandboxed.root / "resumable" / "checkpoints" / "state"
    second_uid = json.loads((run_dir(sandboxed, "resumable") / "spec.json").read_text())["ranks"][0][
        "sandbox"
    ]["uid"]
    assert checkpoint.stat().st_uid == second_uid != first_uid


def _group_uids_alive(uid: int) -> bool:
    return uid in live_uids()


# --- GPUs -------------------------------------------------------------------------------------------------


@sandbox
def test_a_rank_on_real_gpus_gets_only_its_own_device_nodes(sandboxed, fake_nvidia_smi):  # noqa: F811
    backend = LocalBackend(sandboxed.root, nvidia_smi=fake_nvidia_smi, stop_grace_seconds=1.0)
    [node] = backend.inventory()

    backend.bind(job("on-gpu-1", PRINT_ENV, node=node.name, gpus=(1,)))

    rank = json.loads((run_dir(backend, "on-gpu-1") / "spec.json").read_text())["ranks"][0]
    argv = rank["sandbox"]["argv"]
    binds = [argv[index + 1] for index, word in enumerate(argv) if word in ("--dev-bind", "--dev-bind-try")]
    assert binds == [
        "/dev/nvidia1",
        "/dev/nvidiactl",
        "/dev/nvidia-uvm",
        "/dev/nvidia-uvm-tools",
        "/dev/nvidia-modeset",
    ]
    assert rank["env"]["CUDA_VISIBLE_DEVICES"] == "GPU-66666666-7777-8888-9999-000000000000"
    # This machine has no /dev/nvidia1: the rank must fail rather than run without its GPU.
    if not Path("/dev/nvidia1").exists():
        assert wait_for_phase(backend, "on-gpu-1", TERMINAL).phase == Phase.FAILED
        assert "/dev/nvidia1" in backend.logs("on-gpu-1", 10_000)


# --- what the sandbox itself is ------------------------------------------------------------------------------


@sandbox
def test_a_job_has_no_privilege_and_writes_only_its_own_folders(sandboxed):
    writes = python(
        """
        import ctypes, os
        for path in ("/evil", "/usr/evil", "/etc/passwd", "/job/evil", "/dev/evil", "/proc/sys/kernel/hostname"):
            try:
                with open(path, "a") as file:
                    file.write("x")
                print("WROTE", path, flush=True)
            except OSError as error:
                print("refused", path, error.errno, flush=True)
        for path in ("/job/work/a", "/job/checkpoints/b", "/tmp/c", "/dev/shm/d"):
            with open(path, "w") as file:
                file.write("mine")
        print("own folders writable", sorted(os.listdir("/job")), flush=True)
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        print("capabilities", status["CapEff"].strip(), status["CapBnd"].strip(), flush=True)
        libc = ctypes.CDLL(None, use_errno=True)
        print("nested user namespace:", libc.unshare(0x10000000), flush=True)  # CLONE_NEWUSER
        print("processes seen", sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit()), flush=True)
        """
    )
    sandboxed.bind(job("writer", writes))

    assert wait_for_phase(sandboxed, "writer", TERMINAL).phase == Phase.SUCCEEDED
    output = sandboxed.logs("writer", 10_000)
    assert "WROTE" not in output and output.count("refused") == 6
    assert "own folders writable ['checkpoints', 'work']" in output
    assert "capabilities 0000000000000000 0000000000000000" in output
    assert "nested user namespace: -1" in output
    assert "processes seen [1, 2]" in output  # bubblewrap's init and itself: nothing of the host
    assert not Path("/evil").exists() and not Path("/usr/evil").exists()


@sandbox
def test_the_agent_still_sees_a_sandboxed_job_work(sandboxed):
    sandboxed.bind(job("busy", python("while True: pass")))
    group = wait_for(lambda: local_runner.read_json(run_dir(sandboxed, "busy") / "child-0.json"), "start")[
        "pgid"
    ]

    wait_for(lambda: group_cpu_seconds(group) > 0.2, "the job's CPU time in its process group")


@sandbox
def test_a_command_that_cannot_start_in_the_sandbox_says_why(sandboxed):
    sandboxed.bind(job("nowhere", ("/usr/bin/gpugrant-no-such-program",)))
    sandboxed.bind(job("exits-127", python("import sys; sys.exit(127)")))

    missing = wait_for_phase(sandboxed, "nowhere", TERMINAL)
    plain = wait_for_phase(sandboxed, "exits-127", TERMINAL)

    assert (missing.phase, missing.exit_code) == (Phase.FAILED, 127)
    assert missing.reason == "cannot start '/usr/bin/gpugrant-no-such-program': No such file or directory"
    assert (plain.phase, plain.exit_code, plain.reason) == (Phase.FAILED, 127, "exited with code 127")


# --- where it cannot work ---------------------------------------------------------------------------------


def test_without_bubblewrap_the_backend_refuses_to_start_when_the_sandbox_is_required(tmp_path, settings):
    settings.GPUGRANT_LOCAL_SANDBOX = "required"
    settings.GPUGRANT_LOCAL_SANDBOX_BWRAP = "/nonexistent/bwrap"

    with pytest.raises(SandboxUnavailable, match=r"bubblewrap \(/nonexistent/bwrap\) is not installed"):
        LocalBackend(tmp_path / "local-backend", nvidia_smi=None)


def test_without_bubblewrap_the_demo_runs_jobs_unsandboxed_and_says_so_loudly(tmp_path, settings, caplog):
    settings.GPUGRANT_LOCAL_SANDBOX = "if-available"
    settings.GPUGRANT_LOCAL_SANDBOX_BWRAP = "/nonexistent/bwrap"
    settings.GPUGRANT_LOCAL_GPUS = "A100:1"

    with caplog.at_level(logging.WARNING, logger="scheduler.backends.local"):
        backend = LocalBackend(tmp_path / "local-backend", nvidia_smi=None, stop_grace_seconds=1.0)
    try:
        backend.bind(job("plain", python("import os; print('uid', os.getuid())")))
        assert wait_for_phase(backend, "plain", TERMINAL).phase == Phase.SUCCEEDED
    finally:
        _kill_everything(backend.root)

    assert not backend.sandboxed
    assert "JOBS RUN UNSANDBOXED" in caplog.text and "/nonexistent/bwrap" in caplog.text
    assert "sandbox" not in json.loads((run_dir(backend, "plain") / "spec.json").read_text())["ranks"][0]


def test_production_refuses_an_unsandboxed_local_backend():
    import subprocess
    import sys

    environment = {
        "PATH": os.environ.get("PATH", ""),
        "GPUGRANT_ENV": "production",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "GPUGRANT_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "GPUGRANT_LOCAL_SANDBOX": "if-available",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=environment,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0
    assert "GPUGRANT_LOCAL_SANDBOX must be 'required' in production" in done.stderr
