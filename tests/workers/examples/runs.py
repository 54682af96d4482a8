"""Running the example workloads as real subprocesses, the way the local backend runs a job's command."""

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from workers.examples.checkpoint import MODEL_NAME
from workers.examples.mlp import PARAMETER_NAMES

REPOSITORY = Path(__file__).resolve().parents[3]
PROGRESS = re.compile(r"^step=(\d+) loss=([\d.]+) accuracy=([\d.]+)$", re.MULTILINE)
FINAL = re.compile(
    r"^final step=(\d+) loss=([\d.]+) accuracy=([\d.]+) validation_accuracy=([\d.]+)$", re.MULTILINE
)

# Settings shared by every run that is compared with another: only these decide the final weights.
SEED = 7
STEPS = 400


def job_environment(**extra: str) -> dict[str, str]:
    """This interpreter's environment without any job variables, plus ``extra``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GPUGRANT_") and key not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    }
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    environment.update(extra)
    return environment


def example_command(module: str, *arguments: object) -> list[str]:
    return [sys.executable, "-m", f"workers.examples.{module}", *map(str, arguments)]


def train_arguments(
    directory: Path, *, steps: int = STEPS, checkpoint_every: int = 100, seed: int = SEED
) -> list:
    return [
        "--steps", steps, "--checkpoint-dir", directory, "--checkpoint-every", checkpoint_every,
        "--seed", seed, "--keep", 0, "--device", "cpu", "--log-every", 20,
    ]  # fmt: skip


def run_example(
    module: str, *arguments: object, cwd: Path, **environment: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        example_command(module, *arguments),
        cwd=cwd,
        env=job_environment(**environment),
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_example(module: str, *arguments: object, cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen(
            example_command(module, *arguments),
            cwd=cwd,
            env=job_environment(),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition: Callable[[], object], *, what: str, process: subprocess.Popen, timeout: float = 30.0):
    """Poll ``condition`` until it is true, failing if ``process`` ends first or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if process.poll() is not None:
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}")
        time.sleep(0.005)
    raise AssertionError(f"no {what} within {timeout} s")


def model_weights(directory: Path) -> dict[str, np.ndarray]:
    with np.load(directory / MODEL_NAME) as archive:
        return {name: archive[f"parameter_{name}"] for name in PARAMETER_NAMES}


def weights_equal(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> bool:
    return all(np.allclose(first[name], second[name], rtol=1e-6, atol=1e-7) for name in PARAMETER_NAMES)
