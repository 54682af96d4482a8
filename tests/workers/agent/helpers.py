"""Waiting on real conditions with a deadline, and the repository root for subprocesses."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]


def wait_for(condition, what: str, timeout: float = 20.0, *, process: subprocess.Popen | None = None):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s or if ``process`` ends."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode} while waiting for {what}")
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def python_environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("GPUGRANT_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    environment.update(extra)
    return environment


def start_module(module: str, *arguments: str, log: Path, **environment: str) -> subprocess.Popen:
    with open(log, "ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", module, *arguments],
            cwd=REPOSITORY,
            env=python_environment(**environment),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen) -> None:
    """SIGKILL and reap a process a test started, if it still runs."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def node_key_file(directory: Path, node: str) -> Path:
    """A node key from ``manage.py create_node_key`` (its last line), in a file as the agent reads it."""
    import io

    from django.core.management import call_command

    output = io.StringIO()
    call_command("create_node_key", "--node", node, stdout=output, stderr=io.StringIO())
    key_file = directory / "node.key"
    key_file.write_text(output.getvalue().strip().splitlines()[-1])
    return key_file


def local_agent_arguments(
    *, node: str, portal_url: str, key_file: Path, spool: Path, local_state: Path, report_interval: float
) -> list[str]:
    """``python -m workers.agent`` metering the local backend's jobs on simulated GPUs."""
    return [
        "--node", node, "--portal", portal_url, "--key-file", str(key_file), "--spool", str(spool),
        "--source", "local", "--local-state", str(local_state), "--devices", "simulated",
        "--sample-interval", "0.2", "--report-interval", str(report_interval),
    ]  # fmt: skip
