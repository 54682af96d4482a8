"""The model of mlp.py and the optimiser of adam.py on PyTorch tensors, for running on a CUDA GPU.

The arithmetic is written out exactly as in numpy (no autograd, no torch.optim) so that both devices
follow the same formulas and a checkpoint from one resumes on the other.
"""

import numpy as np
import torch

from workers.examples.adam import BETA1, BETA2, EPSILON, AdamState
from workers.examples.data import CLASSES
from workers.examples.mlp import Parameters

Tensors = dict[str, torch.Tensor]


def _to_device(arrays: Parameters, device: torch.device) -> Tensors:
    return {name: torch.from_numpy(np.ascontiguousarray(value)).to(device) for name, value in arrays.items()}


def _to_numpy(tensors: Tensors) -> Parameters:
    return {name: value.detach().cpu().numpy().copy() for name, value in tensors.items()}


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)}, PyTorch {torch.__version__})"
    return f"{device.type} (PyTorch {torch.__version__})"


def _forward(parameters: Tensors, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    hidden = torch.tanh(points @ parameters["w1"] + parameters["b1"])
    return torch.softmax(hidden @ parameters["w2"] + parameters["b2"], dim=1), hidden


class TorchTrainer:
    def __init__(
        self,
        *,
        parameters: Parameters,
        adam: AdamState,
        points: np.ndarray,
        labels: np.ndarray,
        learning_rate: float,
        device: str = "cuda",
    ) -> None:
        torch.use_deterministic_algorithms(True)
        self._device = torch.device(device)
        self.description = _describe(self._device)
        self._parameters = _to_device(parameters, self._device)
        self._first_moment = _to_device(adam.first_moment, self._device)
        self._second_moment = _to_device(adam.second_moment, self._device)
        self._steps_taken = adam.steps_taken
        self._points = torch.from_numpy(np.ascontiguousarray(points)).to(self._device)
        self._labels = torch.from_numpy(np.ascontiguousarray(labels)).to(self._device)
        self._learning_rate = learning_rate

    @torch.no_grad()
    def step(self, indices: np.ndarray) -> None:
        chosen = torch.from_numpy(np.ascontiguousarray(indices)).to(self._device)
        points = self._points.index_select(0, chosen)
        labels = self._labels.index_select(0, chosen)
        probabilities, hidden = _forward(self._parameters, points)
        one_hot = torch.nn.functional.one_hot(labels, CLASSES).to(probabilities.dtype)
        logit_gradient = (probabilities - one_hot) / len(points)
        hidden_gradient = (logit_gradient @ self._parameters["w2"].T) * (1 - hidden * hidden)
        gradients = {
            "w1": points.T @ hidden_gradient,
            "b1": hidden_gradient.sum(dim=0),
            "w2": hidden.T @ logit_gradient,
            "b2": logit_gradient.sum(dim=0),
        }
        self._steps_taken += 1
        first_correction = 1 - BETA1**self._steps_taken
        second_correction = 1 - BETA2**self._steps_taken
        for name, gradient in gradients.items():
            first = self._first_moment[name]
            second = self._second_moment[name]
            first.mul_(BETA1).add_((1 - BETA1) * gradient)
            second.mul_(BETA2).add_((1 - BETA2) * gradient * gradient)
            step = (
                self._learning_rate
                * (first / first_correction)
                / ((second / second_correction).sqrt() + EPSILON)
            )
            self._parameters[name].sub_(step)

    def parameters(self) -> Parameters:
        return _to_numpy(self._parameters)

    def adam_state(self) -> AdamState:
        return AdamState(_to_numpy(self._first_moment), _to_numpy(self._second_moment), self._steps_taken)


class TorchPredictor:
    """Class probabilities for batches of points, computed on the device."""

    def __init__(self, parameters: Parameters, *, device: str = "cuda") -> None:
        self._device = torch.device(device)
        self.description = _describe(self._device)
        self._parameters = _to_device(parameters, self._device)

    @torch.no_grad()
    def __call__(self, points: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(np.ascontiguousarray(points)).to(self._device)
        probabilities, _ = _forward(self._parameters, batch)
        return probabilities.cpu().numpy()
