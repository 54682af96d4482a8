"""Training state on disk: numbered checkpoints and the final model, each written atomically.

A checkpoint is one ``.npz`` file holding the parameters, Adam's moments and a JSON header (step,
Adam's step count, the batch sampler's RNG state and the run's configuration). It is written to a
temporary file in the same folder, synced, and renamed over its final name, so a reader (or a restart
after SIGKILL) sees either the whole file or none of it.
"""

import contextlib
import json
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from workers.examples.adam import AdamState
from workers.examples.mlp import PARAMETER_NAMES, Parameters

MODEL_NAME = "model.npz"
_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d{8,})\.npz$")
_TEMPORARY_PREFIX = ".partial-"
FORMAT_VERSION = 1


class CheckpointError(Exception):
    """A checkpoint or model file that is missing, unreadable or from another kind of run."""


@dataclass
class Checkpoint:
    step: int
    parameters: Parameters
    adam: AdamState
    batch_rng_state: dict[str, Any]
    config: dict[str, Any]


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step:08d}.npz"


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a synced temporary file in the same folder and rename it into place."""
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=_TEMPORARY_PREFIX, suffix=".tmp", delete=False
    )
    try:
        with handle:
            # NamedTemporaryFile makes files only the owner can read; give the usual umask-based mode so
            # that an inference job running as another user can read the model.
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(handle.fileno(), 0o666 & ~umask)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise
    # The rename is only durable once the folder's entry is.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def checkpoint_save(directory: Path, checkpoint: Checkpoint) -> Path:
    header = {
        "format": FORMAT_VERSION,
        "step": checkpoint.step,
        "adam_steps_taken": checkpoint.adam.steps_taken,
        # PCG64's state holds 128-bit integers, which JSON keeps exactly and npz would not.
        "batch_rng_state": checkpoint.batch_rng_state,
        "config": checkpoint.config,
    }
    arrays = {"header": np.array(json.dumps(header))}
    for name in PARAMETER_NAMES:
        arrays[f"parameter_{name}"] = checkpoint.parameters[name]
        arrays[f"adam_first_{name}"] = checkpoint.adam.first_moment[name]
        arrays[f"adam_second_{name}"] = checkpoint.adam.second_moment[name]
    path = directory / checkpoint_name(checkpoint.step)
    write_atomic(path, lambda handle: np.savez(handle, **arrays))
    return path


def checkpoint_load(path: Path) -> Checkpoint:
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive["header"]))
            if header.get("format") != FORMAT_VERSION:
                raise CheckpointError(f"{path} has format {header.get('format')!r}, not {FORMAT_VERSION}")
            return Checkpoint(
                step=int(header["step"]),
                parameters={name: archive[f"parameter_{name}"] for name in PARAMETER_NAMES},
                adam=AdamState(
                    first_moment={name: archive[f"adam_first_{name}"] for name in PARAMETER_NAMES},
                    second_moment={name: archive[f"adam_second_{name}"] for name in PARAMETER_NAMES},
                    steps_taken=int(header["adam_steps_taken"]),
                ),
                batch_rng_state=header["batch_rng_state"],
                config=header["config"],
            )
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error


def checkpoint_paths(directory: Path) -> list[Path]:
    """The checkpoints in ``directory``, oldest step first."""
    found = []
    for path in directory.glob("checkpoint-*.npz"):
        match = _CHECKPOINT_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def checkpoint_latest(directory: Path) -> Checkpoint | None:
    """The newest readable checkpoint, skipping (and reporting) any that cannot be read."""
    for path in reversed(checkpoint_paths(directory)):
        try:
            return checkpoint_load(path)
        except CheckpointError as error:
            print(f"warning: skipping {error}", file=sys.stderr, flush=True)
    return None


def checkpoints_prune(directory: Path, *, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints; ``keep`` 0 keeps them all."""
    if keep > 0:
        for path in checkpoint_paths(directory)[:-keep]:
            path.unlink(missing_ok=True)


def partial_files_remove(directory: Path) -> None:
    """Remove temporary files a killed writer left behind; only one training process owns the folder."""
    for path in directory.glob(f"{_TEMPORARY_PREFIX}*.tmp"):
        path.unlink(missing_ok=True)


def model_save(directory: Path, *, parameters: Parameters, config: dict[str, Any], step: int) -> Path:
    header = {"format": FORMAT_VERSION, "step": step, "config": config}
    arrays = {"header": np.array(json.dumps(header))}
    arrays.update({f"parameter_{name}": parameters[name] for name in PARAMETER_NAMES})
    path = directory / MODEL_NAME
    write_atomic(path, lambda handle: np.savez(handle, **arrays))
    return path


def model_load(directory: Path) -> tuple[Parameters, Path]:
    """The final model if training finished, else the newest checkpoint's parameters."""
    path = directory / MODEL_NAME
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[f"parameter_{name}"] for name in PARAMETER_NAMES}, path
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise CheckpointError(f"cannot read model {path}: {error}") from error
    checkpoint = checkpoint_latest(directory)
    if checkpoint is not None:
        return checkpoint.parameters, directory / checkpoint_name(checkpoint.step)
    raise CheckpointError(
        f"no trained model in {directory}: expected {MODEL_NAME} or checkpoint-*.npz there; "
        f"run `python -m workers.examples.train --checkpoint-dir {directory}` first"
    )
