"""The real stack for reliability tests: Celery workers, beat and gunicorn as separate processes.

Every process talks to this test's PostgreSQL database, a private Celery queue, a private cache key prefix
and a local backend directory of its own, so nothing reaches other people's workers or data. PostgreSQL
and RabbitMQ can be put behind a TcpProxy (tests/reliability/proxy.py) to cut them for this test only.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

REPOSITORY = Path(__file__).resolve().parents[2]
PROCESS_START_S = 60  # two loaded cores shared with other test runs: Django + Celery can take a while


def wait_until(condition, what: str, timeout: float = 60.0, *, process: subprocess.Popen | None = None):
    """Poll a real condition until it holds; fail after ``timeout`` s, or at once if ``process`` died."""
    give_up = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode} while waiting for {what}")
        if time.monotonic() > give_up:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)  # poll interval only; the bound is the deadline


def with_address(url: str, host: str, port: int, path: str | None = None) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path if path is None else path, parts.query, ""))


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """Processes of one test; ``close()`` stops every one it started and deletes its broker queue."""

    def __init__(self, root: Path, *, database_port: int | None = None, broker_port: int | None = None):
        self.root = root
        self.var = root / "var"
        self.var.mkdir(parents=True, exist_ok=True)
        self.fault_file = root / "fault"
        self.queue = f"gg-faults-{uuid.uuid4().hex[:12]}"
        self.cache_prefix = f"gg-faults-{uuid.uuid4().hex[:12]}"
        database_url = os.environ["DATABASE_URL"]
        broker_url = os.environ["CELERY_BROKER_URL"]
        db_host, db_port = address_of(database_url)
        broker_host, real_broker_port = address_of(broker_url)
        self.database_url = with_address(
            database_url, db_host, database_port or db_port, "/" + connection.settings_dict["NAME"]
        )
        self.broker_url = with_address(broker_url, broker_host, broker_port or real_broker_port)
        self.processes: list[subprocess.Popen] = []
        self.logs: dict[int, Path] = {}

    # --- environment ------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("GPUGRANT_", "GG_", "DATABASE_", "CELERY_"))
        }
        base.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])),
            DJANGO_SETTINGS_MODULE="portal.settings",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.broker_url,
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            CACHE_KEY_PREFIX=self.cache_prefix,
            GPUGRANT_VAR_DIR=str(self.var),
            GPUGRANT_BACKEND="local",
            GPUGRANT_LOCAL_GPUS="A100:4,H100:4",
            GPUGRANT_METERING="edges",
            GPUGRANT_CYCLE_INTERVAL_S="1",
            GG_FAULT_FILE=str(self.fault_file),
            GG_FAULT_TASKS="scheduler.tasks.scheduling_cycle",
        )
        base.update(extra)
        return base

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.root / f"{name}-{len(self.processes)}.log"
        with open(log, "ab") as handle:
            process = subprocess.Popen(
                command,
                cwd=REPOSITORY,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stopping it reaches gunicorn's workers too
            )
        self.processes.append(process)
        self.logs[process.pid] = log
        return process

    def log(self, process: subprocess.Popen) -> str:
        return self.logs[process.pid].read_text(errors="replace")

    # --- processes --------------------------------------------------------------------------------

    def start_worker(self, *, beat: bool = False, **env: str) -> subprocess.Popen:
        """A Celery worker (solo pool: the task runs in the process that a kill -9 hits) on this test's queue."""
        name = f"w{len(self.processes)}-{uuid.uuid4().hex[:6]}@gg-faults"
        command = [
            sys.executable, "-m", "tests.reliability.faulty", "-A", "portal", "worker", "--pool", "solo",
            "-Q", self.queue, "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "INFO",
        ]  # fmt: skip
        if beat:
            command += ["--beat", "--schedule", str(self.root / "beat-schedule")]
        process = self._start("worker", command, self.env(**env))
        wait_until(
            lambda: " ready." in self.log(process), "the worker to be ready", PROCESS_START_S, process=process
        )
        return process

    def start_beat(self, **env: str) -> subprocess.Popen:
        command = [
            sys.executable, "-m", "tests.reliability.faulty", "-A", "portal", "beat",
            "--schedule", str(self.root / "beat-schedule"), "--loglevel", "INFO",
        ]  # fmt: skip
        process = self._start("beat", command, self.env(**env))
        wait_until(
            lambda: "beat: Starting" in self.log(process), "beat to start", PROCESS_START_S, process=process
        )
        return process

    def start_web(self, **env: str) -> tuple[subprocess.Popen, str]:
        """gunicorn with one sync worker serving tests/reliability/faulty_wsgi.py; returns it and its URL."""
        port = free_port()
        command = [
            sys.executable, "-m", "gunicorn", "tests.reliability.faulty_wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "60", "--graceful-timeout", "5",
            "--log-level", "info",
        ]  # fmt: skip
        environment = self.env(GPUGRANT_ENV="demo", ALLOWED_HOSTS="127.0.0.1", **env)
        process = self._start("web", command, environment)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(port), "gunicorn to answer", PROCESS_START_S, process=process)
        return process, url

    def start_manage(self, command: str, *, ready: str, **env: str) -> subprocess.Popen:
        """``manage.py <command>`` as its own process; returns once its log shows ``ready``."""
        process = self._start(command, [sys.executable, "manage.py", command], self.env(**env))
        wait_until(
            lambda: ready in self.log(process), f"{command} to start", PROCESS_START_S, process=process
        )
        return process

    def stop(self, process: subprocess.Popen, *, graceful: bool = True) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM if graceful else signal.SIGKILL)
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass

    def kill9(self, process: subprocess.Popen) -> None:
        """kill -9 of that one process (not its group): what an OOM kill or a crashed node does."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        from portal.celery import app

        try:
            with app.connection_for_write() as broker:
                broker.default_channel.queue_delete(self.queue)
        except Exception:  # noqa: BLE001 - the queue may never have been declared
            pass

    # --- faults -----------------------------------------------------------------------------------

    def arm(self, fault: str) -> None:
        for name in ("fired", "missed"):
            self.fault_file.with_name(f"{self.fault_file.name}.{name}").unlink(missing_ok=True)
        tmp = self.fault_file.with_name(self.fault_file.name + ".tmp")
        tmp.write_text(fault)
        os.replace(tmp, self.fault_file)

    def fault_outcome(self) -> str | None:
        """'fired …' or 'missed N' once the armed fault was taken and resolved, else None."""
        for name in ("fired", "missed"):
            path = self.fault_file.with_name(f"{self.fault_file.name}.{name}")
            if path.exists():
                return f"{name} {path.read_text()}"
        return None

    def send(self, task: str) -> None:
        from portal.celery import app

        app.send_task(task, queue=self.queue)

    def queue_depth(self) -> int:
        """Messages waiting in this test's queue (not counting one a worker is running)."""
        from portal.celery import app

        with app.connection_for_write() as broker:
            return broker.default_channel.queue_declare(self.queue, passive=True).message_count


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /api/schema/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/")
    except OSError:
        return False
