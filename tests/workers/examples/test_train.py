"""workers.examples.train run for real as a subprocess: learning, checkpoints, kill and resume, refusals."""

import re
import signal

import numpy as np
import pytest

from tests.workers.examples.runs import (
    FINAL,
    PROGRESS,
    STEPS,
    model_weights,
    run_example,
    start_example,
    train_arguments,
    wait_for,
    weights_equal,
)
from workers.examples.checkpoint import checkpoint_load, checkpoint_paths


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """One full run with the shared seed and step count, for resumed runs to be compared with."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    finished = run_example("train", *train_arguments(directory), cwd=directory)
    assert finished.returncode == 0, finished.stderr
    return directory, finished


def checkpoint_steps(directory):
    return [checkpoint_load(path).step for path in checkpoint_paths(directory)]


def test_it_learns_the_spirals(uninterrupted):
    directory, finished = uninterrupted
    progress = [
        (int(step), float(loss), float(accuracy))
        for step, loss, accuracy in PROGRESS.findall(finished.stdout)
    ]
    assert [step for step, _, _ in progress] == list(range(20, STEPS + 1, 20))
    first_loss, last_loss = progress[0][1], progress[-1][1]
    assert last_loss < first_loss / 3
    final = FINAL.search(finished.stdout)
    assert final is not None, finished.stdout
    step, loss, accuracy, validation_accuracy = final.groups()
    assert int(step) == STEPS
    assert float(loss) == pytest.approx(last_loss, abs=1e-6)
    assert float(accuracy) > 0.9  # chance is 0.5: the two classes are equally common
    assert float(validation_accuracy) > 0.9
    assert (directory / "model.npz").exists()


def test_it_checkpoints_every_k_steps_and_at_the_end(tmp_path):
    finished = run_example("train", *train_arguments(tmp_path, steps=45, checkpoint_every=10), cwd=tmp_path)

    assert finished.returncode == 0, finished.stderr
    assert checkpoint_steps(tmp_path) == [10, 20, 30, 40, 45]
    assert [path.name for path in checkpoint_paths(tmp_path)][0] == "checkpoint-00000010.npz"
    assert list(tmp_path.glob(".partial-*")) == []


def test_it_keeps_only_the_newest_checkpoints(tmp_path):
    arguments = [*train_arguments(tmp_path, steps=45, checkpoint_every=10), "--keep", 2]
    finished = run_example("train", *arguments, cwd=tmp_path)

    assert finished.returncode == 0, finished.stderr
    assert checkpoint_steps(tmp_path) == [40, 45]


def test_it_resumes_after_sigkill_with_the_weights_of_an_uninterrupted_run(tmp_path, uninterrupted):
    reference_directory, _ = uninterrupted
    # Checkpoints come more often than in the reference run (that does not change the weights), and the
    # delay makes the run last seconds, so the kill lands well before the end.
    arguments = train_arguments(tmp_path, checkpoint_every=20)
    first = start_example("train", *arguments, "--step-delay", 0.02, cwd=tmp_path, log=tmp_path / "first.log")
    try:
        wait_for(lambda: checkpoint_paths(tmp_path), what="first checkpoint", process=first)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    killed_at = checkpoint_steps(tmp_path)[-1]
    assert 20 <= killed_at < STEPS
    assert not (tmp_path / "model.npz").exists()
    # What the killed run left is usable at once: inference falls back to its newest checkpoint.
    inferred = run_example(
        "infer", "--checkpoint-dir", tmp_path, "--batches", 4, "--batch-size", 25,
        "--output", tmp_path / "predictions.jsonl", "--device", "cpu", cwd=tmp_path,
    )  # fmt: skip
    assert inferred.returncode == 0, inferred.stderr
    assert f"checkpoint-{killed_at:08d}.npz" in inferred.stdout
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 100

    second = run_example("train", *arguments, cwd=tmp_path)

    assert second.returncode == 0, second.stderr
    assert f"resumed from checkpoint at step {killed_at} in {tmp_path}" in second.stdout
    assert int(PROGRESS.search(second.stdout).group(1)) > killed_at  # it did not start again from step 0
    assert weights_equal(model_weights(tmp_path), model_weights(reference_directory))


def test_it_checkpoints_and_exits_143_on_sigterm_then_resumes(tmp_path, uninterrupted):
    reference_directory, _ = uninterrupted
    arguments = train_arguments(tmp_path, checkpoint_every=20)
    log = tmp_path / "first.log"
    first = start_example("train", *arguments, "--step-delay", 0.02, cwd=tmp_path, log=log)
    try:
        wait_for(lambda: checkpoint_paths(tmp_path), what="first checkpoint", process=first)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        first.kill()
        first.wait(timeout=30)
    stopped = re.findall(r"^stopped by SIGTERM at step (\d+);", log.read_text(), re.MULTILINE)
    assert len(stopped) == 1
    stopped_at = int(stopped[0])
    assert checkpoint_steps(tmp_path)[-1] == stopped_at  # the stop wrote a checkpoint where it stopped

    second = run_example("train", *arguments, cwd=tmp_path)

    assert second.returncode == 0, second.stderr
    assert f"resumed from checkpoint at step {stopped_at} in" in second.stdout
    assert weights_equal(model_weights(tmp_path), model_weights(reference_directory))


def test_it_trains_no_further_when_started_again_after_finishing(tmp_path):
    arguments = train_arguments(tmp_path, steps=30, checkpoint_every=10)
    assert run_example("train", *arguments, cwd=tmp_path).returncode == 0
    weights = model_weights(tmp_path)

    again = run_example("train", *arguments, cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert "nothing to train: the checkpoint is at step 30" in again.stdout
    assert PROGRESS.search(again.stdout) is None
    assert checkpoint_steps(tmp_path) == [10, 20, 30]
    assert weights_equal(model_weights(tmp_path), weights)


def test_another_seed_gives_other_weights(tmp_path, uninterrupted):
    reference_directory, _ = uninterrupted
    finished = run_example("train", *train_arguments(tmp_path, seed=8), cwd=tmp_path)

    assert finished.returncode == 0, finished.stderr
    assert not np.allclose(model_weights(tmp_path)["w1"], model_weights(reference_directory)["w1"])


def test_it_refuses_checkpoints_of_another_run(tmp_path):
    assert (
        run_example(
            "train", *train_arguments(tmp_path, steps=10, checkpoint_every=5), cwd=tmp_path
        ).returncode
        == 0
    )

    other = run_example(
        "train", *train_arguments(tmp_path, steps=20, checkpoint_every=5, seed=8), cwd=tmp_path
    )

    assert other.returncode == 1
    assert "belong to another run (seed 7 there, 8 here)" in other.stderr
    assert checkpoint_steps(tmp_path) == [5, 10]


def test_it_explains_a_checkpoint_dir_it_cannot_create(tmp_path):
    (tmp_path / "a-file").write_text("")

    finished = run_example("train", *train_arguments(tmp_path / "a-file" / "checkpoints"), cwd=tmp_path)

    assert finished.returncode == 1
    assert finished.stderr.startswith("error: cannot create --checkpoint-dir")


def test_it_defaults_to_a_folder_under_gpugrant_workdir(tmp_path):
    workdir = tmp_path / "work"
    job_folder = tmp_path / "job"
    job_folder.mkdir()

    finished = run_example(
        "train",
        "--steps",
        10,
        "--checkpoint-every",
        5,
        "--device",
        "cpu",
        cwd=job_folder,
        GPUGRANT_WORKDIR=str(workdir),
    )

    assert finished.returncode == 0, finished.stderr
    assert (workdir / "checkpoints" / "model.npz").exists()
    assert list(job_folder.iterdir()) == []


def test_it_leaves_the_work_to_rank_0(tmp_path):
    finished = run_example(
        "train", *train_arguments(tmp_path / "checkpoints"), cwd=tmp_path, RANK="1", WORLD_SIZE="2"
    )

    assert finished.returncode == 0, finished.stderr
    assert "rank 1 of 2: this example trains on rank 0 only" in finished.stdout
    assert not (tmp_path / "checkpoints").exists()


def test_it_refuses_cuda_where_there_is_none(tmp_path):
    try:
        import torch
    except ImportError:
        pass
    else:
        if torch.cuda.is_available():
            pytest.skip("this machine has a usable CUDA GPU")

    finished = run_example(
        "train", "--device", "cuda", "--checkpoint-dir", tmp_path / "checkpoints", cwd=tmp_path
    )

    assert finished.returncode == 1
    assert "--device cuda cannot be used" in finished.stderr
    assert not (tmp_path / "checkpoints").exists()
