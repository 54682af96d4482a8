"""One optimisation step of the example model on the chosen device, behind one small interface.

Both trainers take the batch as indices into the training set, which stays on the device, and hand
their state back as numpy arrays so that checkpoints look the same whichever device wrote them.
"""

from typing import Protocol

import numpy as np

from workers.examples.adam import AdamState, adam_update
from workers.examples.mlp import Parameters, mlp_loss_and_gradients


class Trainer(Protocol):
    description: str

    def step(self, indices: np.ndarray) -> None: ...

    def parameters(self) -> Parameters: ...

    def adam_state(self) -> AdamState: ...


def _copied(parameters: Parameters) -> Parameters:
    return {name: value.copy() for name, value in parameters.items()}


class NumpyTrainer:
    def __init__(
        self,
        *,
        parameters: Parameters,
        adam: AdamState,
        points: np.ndarray,
        labels: np.ndarray,
        learning_rate: float,
    ) -> None:
        self.description = f"cpu (numpy {np.__version__})"
        self._parameters = _copied(parameters)
        self._adam = AdamState(_copied(adam.first_moment), _copied(adam.second_moment), adam.steps_taken)
        self._points = points
        self._labels = labels
        self._learning_rate = learning_rate

    def step(self, indices: np.ndarray) -> None:
        _, gradients = mlp_loss_and_gradients(self._parameters, self._points[indices], self._labels[indices])
        adam_update(
            parameters=self._parameters,
            gradients=gradients,
            state=self._adam,
            learning_rate=self._learning_rate,
        )

    def parameters(self) -> Parameters:
        return _copied(self._parameters)

    def adam_state(self) -> AdamState:
        return AdamState(
            _copied(self._adam.first_moment), _copied(self._adam.second_moment), self._adam.steps_taken
        )


def trainer_make(
    device: str,
    *,
    parameters: Parameters,
    adam: AdamState,
    points: np.ndarray,
    labels: np.ndarray,
    learning_rate: float,
) -> Trainer:
    if device == "cuda":
        from workers.examples.torch_mlp import TorchTrainer  # PyTorch is optional: imported only here

        return TorchTrainer(
            parameters=parameters,
            adam=adam,
            points=points,
            labels=labels,
            learning_rate=learning_rate,
            device="cuda",
        )
    return NumpyTrainer(
        parameters=parameters, adam=adam, points=points, labels=labels, learning_rate=learning_rate
    )
