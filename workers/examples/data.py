"""The two-spirals dataset, generated from a seed so that every run and every restart sees the same data."""

import numpy as np

CLASSES = 2
FEATURES = 2


def spirals_make(
    *, samples: int, seed: int, noise: float = 0.05, turns: float = 1.5
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals in the unit disc: ``samples`` points (float32, shape (n, 2)) and labels 0/1.

    The classes alternate, so any prefix of the data is balanced; the same seed always gives the same
    arrays, on any machine.
    """
    if samples < 1:
        raise ValueError("samples must be at least 1")
    rng = np.random.default_rng(seed)
    labels = np.arange(samples) % CLASSES
    # sqrt spreads the points evenly over the area rather than crowding the centre.
    along = np.sqrt(rng.uniform(0.0, 1.0, size=samples))
    angle = along * turns * 2 * np.pi + labels * np.pi
    points = np.stack([along * np.cos(angle), along * np.sin(angle)], axis=1)
    points += rng.normal(0.0, noise, size=points.shape)
    return points.astype(np.float32), labels.astype(np.int64)
