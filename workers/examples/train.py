"""A resumable training job: a two-layer perceptron learns to tell two interleaved spirals apart.

    python -m workers.examples.train --steps 1000 --checkpoint-dir /data/run1 --checkpoint-every 100

It checkpoints every ``--checkpoint-every`` steps and when asked to stop (SIGTERM or SIGINT), resumes
from the newest checkpoint in ``--checkpoint-dir`` when started again, and ends with the same weights
as an uninterrupted run with the same seed. Exit codes: 0 done, 1 error, 143 stopped by a signal
after checkpointing.
"""

import argparse
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from workers.examples.adam import adam_start
from workers.examples.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_latest,
    checkpoint_save,
    checkpoints_prune,
    model_save,
    partial_files_remove,
)
from workers.examples.data import spirals_make
from workers.examples.devices import DeviceError, device_choose
from workers.examples.mlp import mlp_init, mlp_loss_and_accuracy
from workers.examples.paths import default_checkpoint_dir
from workers.examples.trainers import trainer_make

EXIT_STOPPED = 128 + signal.SIGTERM


@dataclass(frozen=True)
class RunConfig:
    """What determines the result; a checkpoint only resumes a run with the same configuration."""

    seed: int
    samples: int
    noise: float
    hidden: int
    learning_rate: float
    batch_size: int


def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """Independent random streams for each use of randomness, all derived from the one seed."""
    names = ("training_data", "validation_data", "initial_weights", "batch_order")
    return dict(zip(names, np.random.SeedSequence(seed).spawn(len(names)), strict=True))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workers.examples.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--steps", type=int, default=1000, help="train until this step (default 1000)")
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="where checkpoints and the final model.npz go (default: $GPUGRANT_CHECKPOINT_DIR, else "
        "checkpoints under $GPUGRANT_WORKDIR or the current folder); use storage that outlives the job",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=100, help="steps between checkpoints (default 100)"
    )
    parser.add_argument(
        "--keep", type=int, default=3, help="checkpoints to keep, newest first; 0 keeps all (default 3)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the data, the initial weights and the batches"
    )
    parser.add_argument("--lr", type=float, default=0.02, help="Adam's learning rate (default 0.02)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--samples", type=int, default=1000, help="training points (default 1000)")
    parser.add_argument("--noise", type=float, default=0.05, help="spread of the points around the spirals")
    parser.add_argument("--log-every", type=int, help="steps between progress lines (default: steps / 20)")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: cuda if usable"
    )
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.0,
        help="seconds to wait after each step, to make the job last long enough to watch, stop or "
        "preempt; it does not change the result",
    )
    return parser


def _check_arguments(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    for name in ("steps", "checkpoint_every", "batch_size", "hidden", "samples"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if arguments.keep < 0 or arguments.step_delay < 0 or arguments.noise < 0 or arguments.lr <= 0:
        parser.error("--keep, --step-delay and --noise must not be negative, and --lr must be positive")
    if arguments.log_every is not None and arguments.log_every < 1:
        parser.error("--log-every must be at least 1")


class _StopRequest:
    """Turns SIGTERM and SIGINT into a flag the loop checks between steps, so a stop checkpoints first."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, _frame: object) -> None:
        self.signal_name = signal.Signals(number).name


def _say(line: str) -> None:
    print(line, flush=True)


def _resume_or_start(
    directory: Path, config: RunConfig, streams: dict[str, np.random.SeedSequence]
) -> Checkpoint:
    checkpoint = checkpoint_latest(directory)
    if checkpoint is None:
        parameters = mlp_init(hidden=config.hidden, seed=streams["initial_weights"])
        batch_rng = np.random.default_rng(streams["batch_order"])
        _say(f"starting from step 0 (no checkpoint in {directory})")
        return Checkpoint(
            0, parameters, adam_start(parameters), batch_rng.bit_generator.state, asdict(config)
        )
    if checkpoint.config != asdict(config):
        differences = ", ".join(
            f"{name} {checkpoint.config.get(name)!r} there, {value!r} here"
            for name, value in asdict(config).items()
            if checkpoint.config.get(name) != value
        )
        raise CheckpointError(
            f"the checkpoints in {directory} belong to another run ({differences}); "
            "use another --checkpoint-dir or the same settings"
        )
    _say(f"resumed from checkpoint at step {checkpoint.step} in {directory}")
    return checkpoint


def train(arguments: argparse.Namespace) -> int:
    device = device_choose(arguments.device)
    directory = arguments.checkpoint_dir or default_checkpoint_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(
            f"cannot create --checkpoint-dir {directory}: {error.strerror or error}"
        ) from error
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CheckpointError(f"--checkpoint-dir {directory} is not writable; pass a writable folder")
    partial_files_remove(directory)
    config = RunConfig(
        seed=arguments.seed,
        samples=arguments.samples,
        noise=arguments.noise,
        hidden=arguments.hidden,
        learning_rate=arguments.lr,
        batch_size=arguments.batch_size,
    )
    streams = seed_streams(config.seed)
    points, labels = spirals_make(samples=config.samples, seed=streams["training_data"], noise=config.noise)
    validation_points, validation_labels = spirals_make(
        samples=max(config.samples // 4, 1), seed=streams["validation_data"], noise=config.noise
    )
    stop = _StopRequest()
    start = _resume_or_start(directory, config, streams)
    trainer = trainer_make(
        device,
        parameters=start.parameters,
        adam=start.adam,
        points=points,
        labels=labels,
        learning_rate=config.learning_rate,
    )
    batch_rng = np.random.default_rng()
    batch_rng.bit_generator.state = start.batch_rng_state
    log_every = arguments.log_every or max(arguments.steps // 20, 1)
    job = os.environ.get("GPUGRANT_JOB_ID", "-")
    if start.step < arguments.steps:
        _say(
            f"training on {trainer.description}: job {job}, steps {start.step + 1}..{arguments.steps}, "
            f"checkpoint every {arguments.checkpoint_every}"
        )
    else:
        _say(f"nothing to train: the checkpoint is at step {start.step} and --steps is {arguments.steps}")

    def checkpoint_write(step: int) -> None:
        checkpoint = Checkpoint(
            step, trainer.parameters(), trainer.adam_state(), batch_rng.bit_generator.state, asdict(config)
        )
        path = checkpoint_save(directory, checkpoint)
        checkpoints_prune(directory, keep=arguments.keep)
        _say(f"checkpoint step={step} path={path}")

    step = start.step
    while step < arguments.steps:
        trainer.step(batch_rng.integers(0, config.samples, size=config.batch_size))
        step += 1
        if step % log_every == 0 or step == arguments.steps:
            loss, accuracy = mlp_loss_and_accuracy(trainer.parameters(), points, labels)
            _say(f"step={step} loss={loss:.6f} accuracy={accuracy:.4f}")
        if step % arguments.checkpoint_every == 0 or step == arguments.steps or stop.signal_name:
            checkpoint_write(step)
        if stop.signal_name:
            _say(
                f"stopped by {stop.signal_name} at step {step}; start again with the same arguments to resume"
            )
            return EXIT_STOPPED
        if arguments.step_delay:
            time.sleep(arguments.step_delay)

    parameters = trainer.parameters()
    path = model_save(directory, parameters=parameters, config=asdict(config), step=step)
    loss, accuracy = mlp_loss_and_accuracy(parameters, points, labels)
    _, validation_accuracy = mlp_loss_and_accuracy(parameters, validation_points, validation_labels)
    _say(f"model step={step} path={path}")
    _say(
        f"final step={step} loss={loss:.6f} accuracy={accuracy:.4f} validation_accuracy={validation_accuracy:.4f}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    _check_arguments(parser, arguments)
    rank = os.environ.get("RANK", "0")
    if rank != "0":
        # One process trains; the other ranks of a multi-pod job have nothing to add to so small a model.
        _say(f"rank {rank} of {os.environ.get('WORLD_SIZE', '?')}: this example trains on rank 0 only")
        return 0
    try:
        return train(arguments)
    except (CheckpointError, DeviceError, OSError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
