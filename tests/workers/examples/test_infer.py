"""workers.examples.infer run for real as a subprocess, on models and checkpoints made by the trainer."""

import json

import numpy as np
import pytest

from tests.workers.examples.runs import model_weights, run_example, train_arguments
from workers.examples.mlp import mlp_probabilities


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("trained")
    finished = run_example(
        "train", *train_arguments(directory, steps=300, checkpoint_every=100), cwd=directory
    )
    assert finished.returncode == 0, finished.stderr
    return directory


def predictions(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_it_writes_one_prediction_per_point(tmp_path, trained):
    output = tmp_path / "out" / "predictions.jsonl"

    finished = run_example(
        "infer", "--checkpoint-dir", trained, "--batches", 3, "--batch-size", 50, "--output", output,
        "--device", "cpu", cwd=tmp_path,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stderr
    assert f"loaded {trained / 'model.npz'}" in finished.stdout
    assert "inferred samples=150 batches=3 " in finished.stdout
    assert "samples_per_second=" in finished.stdout
    records = predictions(output)
    assert [record["index"] for record in records] == list(range(150))
    assert [record["batch"] for record in records] == [index // 50 for index in range(150)]
    assert all(0.5 <= record["confidence"] <= 1 for record in records)
    assert np.mean([record["predicted"] == record["label"] for record in records]) > 0.9
    # The predictions are the model's: recompute them in this process from the saved weights.
    points = np.array([record["point"] for record in records], dtype=np.float32)
    expected = mlp_probabilities(model_weights(trained), points).argmax(axis=1)
    assert [record["predicted"] for record in records] == expected.tolist()


def test_it_uses_the_newest_checkpoint_while_training_is_unfinished(tmp_path):
    arguments = train_arguments(tmp_path / "run", steps=60, checkpoint_every=20)
    assert run_example("train", *arguments, cwd=tmp_path).returncode == 0
    (tmp_path / "run" / "model.npz").unlink()
    output = tmp_path / "predictions.jsonl"

    finished = run_example(
        "infer", "--checkpoint-dir", tmp_path / "run", "--batches", 2, "--batch-size", 7, "--output", output,
        "--device", "cpu", cwd=tmp_path,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stderr
    assert f"loaded {tmp_path / 'run' / 'checkpoint-00000060.npz'}" in finished.stdout
    assert len(predictions(output)) == 14


def test_it_fails_clearly_without_a_model(tmp_path):
    output = tmp_path / "predictions.jsonl"

    finished = run_example("infer", "--checkpoint-dir", tmp_path / "empty", "--output", output, cwd=tmp_path)

    assert finished.returncode == 1
    assert finished.stderr.startswith(f"error: no trained model in {tmp_path / 'empty'}")
    assert "run `python -m workers.examples.train" in finished.stderr
    assert not output.exists()


def test_it_defaults_to_gpugrant_workdir(tmp_path, trained):
    workdir = tmp_path / "work"
    (workdir / "checkpoints").mkdir(parents=True)
    (workdir / "checkpoints" / "model.npz").write_bytes((trained / "model.npz").read_bytes())

    finished = run_example(
        "infer", "--batches", 1, "--batch-size", 5, cwd=tmp_path, GPUGRANT_WORKDIR=str(workdir)
    )

    assert finished.returncode == 0, finished.stderr
    assert len(predictions(workdir / "predictions.jsonl")) == 5


def test_it_rejects_empty_batches(tmp_path, trained):
    finished = run_example("infer", "--checkpoint-dir", trained, "--batches", 0, cwd=tmp_path)

    assert finished.returncode == 2
    assert "--batches and --batch-size must be at least 1" in finished.stderr
