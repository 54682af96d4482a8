"""Batch inference with a model trained by workers.examples.train, writing one JSON line per prediction.

    python -m workers.examples.infer --checkpoint-dir /data/run1 --batches 100 --batch-size 1024 \\
        --output /data/run1/predictions.jsonl

It loads model.npz from the folder (or, if training has not finished, its newest checkpoint), classifies
``--batches`` batches of fresh points drawn from the same spirals, and prints the throughput and the
accuracy against the points' true classes. Exit codes: 0 done, 1 no model or another error.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np

from workers.examples.checkpoint import CheckpointError, model_load, write_atomic
from workers.examples.data import spirals_make
from workers.examples.devices import DeviceError, device_choose
from workers.examples.mlp import Parameters, mlp_probabilities
from workers.examples.paths import default_base, default_checkpoint_dir

Predictor = Callable[[np.ndarray], np.ndarray]


def predictor_make(device: str, parameters: Parameters) -> tuple[Predictor, str]:
    """A function from a batch of points to class probabilities, and the device it runs on in words."""
    if device == "cuda":
        from workers.examples.torch_mlp import TorchPredictor  # PyTorch is optional: imported only here

        predictor = TorchPredictor(parameters, device="cuda")
        return predictor, predictor.description
    return partial(mlp_probabilities, parameters), f"cpu (numpy {np.__version__})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workers.examples.infer", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="the training job's --checkpoint-dir (default: $GPUGRANT_CHECKPOINT_DIR, else checkpoints "
        "under $GPUGRANT_WORKDIR or the current folder)",
    )
    parser.add_argument("--batches", type=int, default=10, help="batches to classify (default 10)")
    parser.add_argument("--batch-size", type=int, default=256, help="points per batch (default 256)")
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON-lines file for the predictions (default: predictions.jsonl under $GPUGRANT_WORKDIR, else "
        "under the current folder)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seeds the points to classify (default 1)")
    parser.add_argument("--noise", type=float, default=0.05, help="spread of the points around the spirals")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: cuda if usable"
    )
    return parser


def infer(arguments: argparse.Namespace) -> int:
    directory = arguments.checkpoint_dir or default_checkpoint_dir()
    output = arguments.output or default_base() / "predictions.jsonl"
    parameters, source = model_load(directory)
    predictor, description = predictor_make(device_choose(arguments.device), parameters)
    print(f"loaded {source}; inferring on {description}", flush=True)
    samples = arguments.batches * arguments.batch_size
    points, labels = spirals_make(samples=samples, seed=arguments.seed, noise=arguments.noise)

    predictor(points[: arguments.batch_size])  # warm-up: the first call on a GPU pays for initialisation
    batches = []
    started = time.perf_counter()
    for start in range(0, samples, arguments.batch_size):
        batches.append(predictor(points[start : start + arguments.batch_size]))
    elapsed = time.perf_counter() - started
    probabilities = np.concatenate(batches)
    predicted = probabilities.argmax(axis=1)

    def write_lines(handle: IO[bytes]) -> None:
        for index in range(samples):
            record = {
                "index": index,
                "batch": index // arguments.batch_size,
                "point": [round(float(value), 6) for value in points[index]],
                "predicted": int(predicted[index]),
                "confidence": round(float(probabilities[index, predicted[index]]), 6),
                "label": int(labels[index]),
            }
            handle.write(json.dumps(record).encode() + b"\n")

    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, write_lines)
    accuracy = float((predicted == labels).mean())
    rate = samples / elapsed if elapsed > 0 else float("inf")
    print(
        f"inferred samples={samples} batches={arguments.batches} seconds={elapsed:.6f} "
        f"samples_per_second={rate:.0f} accuracy={accuracy:.4f}",
        flush=True,
    )
    print(f"wrote {samples} predictions to {output}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.batches < 1 or arguments.batch_size < 1:
        parser.error("--batches and --batch-size must be at least 1")
    if arguments.noise < 0:
        parser.error("--noise must not be negative")
    rank = os.environ.get("RANK", "0")
    if rank != "0":
        print(
            f"rank {rank} of {os.environ.get('WORLD_SIZE', '?')}: this example infers on rank 0 only",
            flush=True,
        )
        return 0
    try:
        return infer(arguments)
    except (CheckpointError, DeviceError, OSError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
