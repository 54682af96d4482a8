"""The model's gradients against finite differences, and Adam's first step."""

import numpy as np
import pytest

from workers.examples.adam import adam_start, adam_update
from workers.examples.data import spirals_make
from workers.examples.mlp import PARAMETER_NAMES, mlp_init, mlp_loss_and_accuracy, mlp_loss_and_gradients


@pytest.fixture
def problem():
    parameters = {name: value.astype(np.float64) for name, value in mlp_init(hidden=5, seed=1).items()}
    points, labels = spirals_make(samples=16, seed=2)
    return parameters, points.astype(np.float64), labels


@pytest.mark.parametrize("name", PARAMETER_NAMES)
def test_the_gradients_match_finite_differences(problem, name):
    parameters, points, labels = problem
    _, gradients = mlp_loss_and_gradients(parameters, points, labels)
    step = 1e-6
    numeric = np.zeros_like(parameters[name])
    for index in np.ndindex(parameters[name].shape):
        shifted = {key: value.copy() for key, value in parameters.items()}
        shifted[name][index] += step
        above, _ = mlp_loss_and_gradients(shifted, points, labels)
        shifted[name][index] -= 2 * step
        below, _ = mlp_loss_and_gradients(shifted, points, labels)
        numeric[index] = (above - below) / (2 * step)

    assert np.allclose(gradients[name], numeric, rtol=1e-4, atol=1e-7)


def test_the_loss_of_the_gradient_step_matches_the_evaluation(problem):
    parameters, points, labels = problem
    loss, _ = mlp_loss_and_gradients(parameters, points, labels)
    evaluated, accuracy = mlp_loss_and_accuracy(parameters, points, labels)

    assert loss == pytest.approx(evaluated)
    assert 0 <= accuracy <= 1


def test_adam_first_step_moves_each_weight_by_the_learning_rate_against_its_gradient(problem):
    parameters, points, labels = problem
    before = {name: value.copy() for name, value in parameters.items()}
    _, gradients = mlp_loss_and_gradients(parameters, points, labels)
    state = adam_start(parameters)

    adam_update(parameters=parameters, gradients=gradients, state=state, learning_rate=0.01)

    assert state.steps_taken == 1
    for name in PARAMETER_NAMES:
        moved = parameters[name] - before[name]
        significant = np.abs(gradients[name]) > 1e-6
        assert np.allclose(moved[significant], -0.01 * np.sign(gradients[name][significant]), rtol=1e-3)


def test_adam_lowers_the_loss(problem):
    parameters, points, labels = problem
    state = adam_start(parameters)
    start, _ = mlp_loss_and_accuracy(parameters, points, labels)
    for _ in range(100):
        _, gradients = mlp_loss_and_gradients(parameters, points, labels)
        adam_update(parameters=parameters, gradients=gradients, state=state, learning_rate=0.05)

    assert mlp_loss_and_accuracy(parameters, points, labels)[0] < start / 2
