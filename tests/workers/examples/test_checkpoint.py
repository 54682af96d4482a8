import os

import numpy as np
import pytest

from workers.examples.adam import adam_start, adam_update
from workers.examples.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_latest,
    checkpoint_load,
    checkpoint_name,
    checkpoint_paths,
    checkpoint_save,
    checkpoints_prune,
    model_load,
    model_save,
    partial_files_remove,
    write_atomic,
)
from workers.examples.data import spirals_make
from workers.examples.mlp import PARAMETER_NAMES, mlp_init, mlp_loss_and_gradients

CONFIG = {"seed": 1, "samples": 10, "noise": 0.05, "hidden": 4, "learning_rate": 0.02, "batch_size": 5}


def checkpoint_at(step: int, *, seed: int = 1) -> Checkpoint:
    """A checkpoint whose every array is non-trivial: weights after some Adam steps, and a used RNG."""
    parameters = mlp_init(hidden=4, seed=seed)
    adam = adam_start(parameters)
    points, labels = spirals_make(samples=10, seed=seed)
    for _ in range(3):
        _, gradients = mlp_loss_and_gradients(parameters, points, labels)
        adam_update(parameters=parameters, gradients=gradients, state=adam, learning_rate=0.02)
    rng = np.random.default_rng(seed)
    rng.integers(0, 10, size=step)
    return Checkpoint(step, parameters, adam, rng.bit_generator.state, CONFIG)


def test_it_round_trips_a_checkpoint(tmp_path):
    saved = checkpoint_at(40)

    path = checkpoint_save(tmp_path, saved)
    loaded = checkpoint_load(path)

    assert path.name == "checkpoint-00000040.npz"
    assert loaded.step == 40
    assert loaded.config == CONFIG
    assert loaded.adam.steps_taken == 3
    for name in PARAMETER_NAMES:
        assert np.array_equal(loaded.parameters[name], saved.parameters[name])
        assert loaded.parameters[name].dtype == np.float32
        assert np.array_equal(loaded.adam.first_moment[name], saved.adam.first_moment[name])
        assert np.array_equal(loaded.adam.second_moment[name], saved.adam.second_moment[name])


def test_the_restored_rng_continues_where_the_saved_one_was(tmp_path):
    saved = checkpoint_at(40)
    original = np.random.default_rng()
    original.bit_generator.state = saved.batch_rng_state

    restored = np.random.default_rng()
    restored.bit_generator.state = checkpoint_load(checkpoint_save(tmp_path, saved)).batch_rng_state

    assert np.array_equal(restored.integers(0, 1000, size=20), original.integers(0, 1000, size=20))


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")

    def fail_half_way(handle):
        handle.write(b"new, but not all of it")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_atomic(target, fail_half_way)

    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["model.npz"]


def test_written_files_follow_the_umask(tmp_path):
    umask = os.umask(0o022)
    try:
        path = checkpoint_save(tmp_path, checkpoint_at(1))
    finally:
        os.umask(umask)

    assert path.stat().st_mode & 0o777 == 0o644


def test_it_lists_checkpoints_by_step_and_ignores_other_files(tmp_path):
    for step in (100, 9, 20):
        checkpoint_save(tmp_path, checkpoint_at(step))
    (tmp_path / "checkpoint-latest.npz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")

    assert [path.name for path in checkpoint_paths(tmp_path)] == [
        "checkpoint-00000009.npz",
        "checkpoint-00000020.npz",
        "checkpoint-00000100.npz",
    ]


def test_the_latest_skips_an_unreadable_checkpoint(tmp_path, capsys):
    checkpoint_save(tmp_path, checkpoint_at(10))
    (tmp_path / checkpoint_name(20)).write_bytes(b"truncated by a full disk")

    latest = checkpoint_latest(tmp_path)

    assert latest is not None and latest.step == 10
    assert (
        f"warning: skipping cannot read checkpoint {tmp_path / checkpoint_name(20)}"
        in capsys.readouterr().err
    )


def test_there_is_no_latest_in_an_empty_or_missing_folder(tmp_path):
    assert checkpoint_latest(tmp_path) is None
    assert checkpoint_latest(tmp_path / "missing") is None


def test_it_prunes_all_but_the_newest(tmp_path):
    for step in (10, 20, 30, 40):
        checkpoint_save(tmp_path, checkpoint_at(step))

    checkpoints_prune(tmp_path, keep=2)

    assert [checkpoint_load(path).step for path in checkpoint_paths(tmp_path)] == [30, 40]
    checkpoints_prune(tmp_path, keep=0)
    assert len(checkpoint_paths(tmp_path)) == 2


def test_it_removes_partial_files_left_by_a_killed_writer(tmp_path):
    checkpoint_save(tmp_path, checkpoint_at(10))
    (tmp_path / ".partial-abc123.tmp").write_bytes(b"half")

    partial_files_remove(tmp_path)

    assert [path.name for path in tmp_path.iterdir()] == [checkpoint_name(10)]


def test_the_model_is_preferred_to_checkpoints(tmp_path):
    checkpoint_save(tmp_path, checkpoint_at(10, seed=1))
    final = checkpoint_at(20, seed=2)
    model_save(tmp_path, parameters=final.parameters, config=CONFIG, step=20)

    parameters, source = model_load(tmp_path)

    assert source == tmp_path / "model.npz"
    assert np.array_equal(parameters["w1"], final.parameters["w1"])


def test_without_a_model_the_newest_checkpoint_is_used(tmp_path):
    checkpoint_save(tmp_path, checkpoint_at(10, seed=1))
    newest = checkpoint_at(20, seed=2)
    checkpoint_save(tmp_path, newest)

    parameters, source = model_load(tmp_path)

    assert source == tmp_path / checkpoint_name(20)
    assert np.array_equal(parameters["w2"], newest.parameters["w2"])


def test_without_either_loading_explains_what_is_missing(tmp_path):
    with pytest.raises(
        CheckpointError, match="no trained model in .*: expected model.npz or checkpoint-\\*.npz"
    ):
        model_load(tmp_path)


def test_a_checkpoint_of_another_format_is_refused(tmp_path):
    np.savez(tmp_path / checkpoint_name(5), header=np.array('{"format": 99}'))

    with pytest.raises(CheckpointError, match="has format 99"):
        checkpoint_load(tmp_path / checkpoint_name(5))
