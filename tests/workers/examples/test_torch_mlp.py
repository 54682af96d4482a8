"""The PyTorch path, where PyTorch is installed: it must follow the numpy path's arithmetic.

PyTorch is never a dependency, so these skip on machines without it; the last one needs a CUDA GPU.
"""

import signal

import numpy as np
import pytest

from tests.workers.examples.runs import (
    FINAL,
    model_weights,
    run_example,
    start_example,
    train_arguments,
    wait_for,
    weights_equal,
)
from workers.examples.adam import adam_start
from workers.examples.checkpoint import checkpoint_paths
from workers.examples.data import spirals_make
from workers.examples.mlp import PARAMETER_NAMES, mlp_init, mlp_probabilities
from workers.examples.trainers import NumpyTrainer

torch = pytest.importorskip("torch")

from workers.examples import torch_mlp  # noqa: E402 - only importable where PyTorch is


def trained_both_ways(device: str):
    parameters = mlp_init(hidden=16, seed=1)
    points, labels = spirals_make(samples=200, seed=2)
    settings = {"parameters": parameters, "adam": adam_start(parameters), "points": points, "labels": labels}
    on_numpy = NumpyTrainer(**settings, learning_rate=0.02)
    on_torch = torch_mlp.TorchTrainer(**settings, learning_rate=0.02, device=device)
    rng = np.random.default_rng(3)
    for _ in range(50):
        indices = rng.integers(0, 200, size=32)
        on_numpy.step(indices)
        on_torch.step(indices)
    return on_numpy, on_torch


def test_torch_on_the_cpu_follows_numpy():
    on_numpy, on_torch = trained_both_ways("cpu")

    assert on_torch.adam_state().steps_taken == 50
    for name in PARAMETER_NAMES:
        assert on_torch.parameters()[name].dtype == np.float32
        assert np.allclose(on_torch.parameters()[name], on_numpy.parameters()[name], rtol=1e-3, atol=1e-4)
        assert np.allclose(
            on_torch.adam_state().second_moment[name],
            on_numpy.adam_state().second_moment[name],
            rtol=1e-3,
            atol=1e-7,
        )


def test_the_torch_predictor_matches_numpy():
    parameters = mlp_init(hidden=16, seed=1)
    points, _ = spirals_make(samples=64, seed=2)

    predicted = torch_mlp.TorchPredictor(parameters, device="cpu")(points)

    assert np.allclose(predicted, mlp_probabilities(parameters, points), atol=1e-5)


@pytest.mark.gpu
def test_on_a_gpu_it_learns_and_resumes_exactly(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU that PyTorch can use")
    reference = tmp_path / "reference"
    finished = run_example("train", *train_arguments(reference), "--device", "cuda", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert "training on cuda (" in finished.stdout
    assert float(FINAL.search(finished.stdout).group(3)) > 0.9

    interrupted = tmp_path / "interrupted"
    arguments = [*train_arguments(interrupted, checkpoint_every=20), "--device", "cuda"]
    first = start_example("train", *arguments, "--step-delay", 0.02, cwd=tmp_path, log=tmp_path / "first.log")
    try:
        wait_for(lambda: checkpoint_paths(interrupted), what="first checkpoint", process=first, timeout=120)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait(timeout=30)
    second = run_example("train", *arguments, cwd=tmp_path)

    assert second.returncode == 0, second.stderr
    assert "resumed from checkpoint at step" in second.stdout
    assert weights_equal(model_weights(interrupted), model_weights(reference))
