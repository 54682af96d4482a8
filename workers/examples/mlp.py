"""A two-layer perceptron (tanh hidden layer, softmax output) with hand-written gradients, in numpy."""

import numpy as np

from workers.examples.data import CLASSES, FEATURES

PARAMETER_NAMES = ("w1", "b1", "w2", "b2")
Parameters = dict[str, np.ndarray]


def mlp_init(*, hidden: int, seed: int | np.random.SeedSequence) -> Parameters:
    if hidden < 1:
        raise ValueError("hidden must be at least 1")
    rng = np.random.default_rng(seed)
    # A wide first layer lets the tanh units cut the plane at many angles and offsets, which the
    # spirals need; the output layer starts small so the first predictions are near 50/50.
    return {
        "w1": rng.normal(0.0, 3.0, size=(FEATURES, hidden)).astype(np.float32),
        "b1": rng.normal(0.0, 1.0, size=hidden).astype(np.float32),
        "w2": rng.normal(0.0, 1.0 / np.sqrt(hidden), size=(hidden, CLASSES)).astype(np.float32),
        "b2": np.zeros(CLASSES, dtype=np.float32),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def mlp_probabilities(parameters: Parameters, points: np.ndarray) -> np.ndarray:
    hidden = np.tanh(points @ parameters["w1"] + parameters["b1"])
    return softmax(hidden @ parameters["w2"] + parameters["b2"])


def mlp_loss_and_gradients(
    parameters: Parameters, points: np.ndarray, labels: np.ndarray
) -> tuple[float, Parameters]:
    """Mean cross-entropy over the batch and its gradient with respect to every parameter."""
    count = len(points)
    hidden = np.tanh(points @ parameters["w1"] + parameters["b1"])
    probabilities = softmax(hidden @ parameters["w2"] + parameters["b2"])
    picked = probabilities[np.arange(count), labels]
    loss = float(-np.log(np.maximum(picked, np.float32(1e-12))).mean())
    logit_gradient = probabilities.copy()
    logit_gradient[np.arange(count), labels] -= 1
    logit_gradient /= np.float32(count)
    hidden_gradient = (logit_gradient @ parameters["w2"].T) * (1 - hidden * hidden)
    gradients = {
        "w1": points.T @ hidden_gradient,
        "b1": hidden_gradient.sum(axis=0),
        "w2": hidden.T @ logit_gradient,
        "b2": logit_gradient.sum(axis=0),
    }
    return loss, gradients


def mlp_loss_and_accuracy(
    parameters: Parameters, points: np.ndarray, labels: np.ndarray
) -> tuple[float, float]:
    probabilities = mlp_probabilities(parameters, points)
    picked = probabilities[np.arange(len(points)), labels]
    loss = float(-np.log(np.maximum(picked, np.float32(1e-12))).mean())
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    return loss, accuracy
