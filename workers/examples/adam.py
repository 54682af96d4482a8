"""The Adam optimiser (Kingma & Ba), updating numpy parameters in place."""

from dataclasses import dataclass

import numpy as np

from workers.examples.mlp import Parameters

BETA1 = 0.9
BETA2 = 0.999
EPSILON = 1e-8


@dataclass
class AdamState:
    first_moment: Parameters
    second_moment: Parameters
    steps_taken: int


def adam_start(parameters: Parameters) -> AdamState:
    return AdamState(
        first_moment={name: np.zeros_like(value) for name, value in parameters.items()},
        second_moment={name: np.zeros_like(value) for name, value in parameters.items()},
        steps_taken=0,
    )


def adam_update(
    *, parameters: Parameters, gradients: Parameters, state: AdamState, learning_rate: float
) -> None:
    state.steps_taken += 1
    first_correction = 1 - BETA1**state.steps_taken
    second_correction = 1 - BETA2**state.steps_taken
    for name, gradient in gradients.items():
        first = state.first_moment[name]
        second = state.second_moment[name]
        first *= BETA1
        first += (1 - BETA1) * gradient
        second *= BETA2
        second += (1 - BETA2) * gradient * gradient
        step = learning_rate * (first / first_correction) / (np.sqrt(second / second_correction) + EPSILON)
        parameters[name] -= step.astype(parameters[name].dtype)
