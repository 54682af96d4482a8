import numpy as np
import pytest

from workers.examples.data import spirals_make


def test_it_gives_the_same_points_for_the_same_seed():
    first_points, first_labels = spirals_make(samples=200, seed=3)
    second_points, second_labels = spirals_make(samples=200, seed=3)

    assert np.array_equal(first_points, second_points)
    assert np.array_equal(first_labels, second_labels)


def test_it_gives_other_points_for_another_seed():
    first_points, _ = spirals_make(samples=200, seed=3)
    second_points, _ = spirals_make(samples=200, seed=4)

    assert not np.allclose(first_points, second_points)


def test_it_accepts_a_seed_sequence_and_repeats_it():
    first_points, _ = spirals_make(samples=50, seed=np.random.SeedSequence(3).spawn(2)[1])
    second_points, _ = spirals_make(samples=50, seed=np.random.SeedSequence(3).spawn(2)[1])

    assert np.array_equal(first_points, second_points)


def test_it_makes_balanced_points_near_the_unit_disc():
    points, labels = spirals_make(samples=1001, seed=0, noise=0.05)

    assert points.shape == (1001, 2) and points.dtype == np.float32
    assert labels.dtype == np.int64
    assert sorted(np.bincount(labels).tolist()) == [500, 501]
    assert np.linalg.norm(points, axis=1).max() < 1.3


def test_the_classes_are_opposite_arms():
    """Without noise, a point of class 1 is a point of class 0 turned half a circle."""
    points, labels = spirals_make(samples=2000, seed=0, noise=0.0)
    radius = np.linalg.norm(points, axis=1)
    angle = np.arctan2(points[:, 1], points[:, 0])
    # Along the arm, the angle grows with the radius at 1.5 turns per unit: undo that, and each class
    # sits at one angle, the two half a turn apart.
    unwound = np.angle(np.exp(1j * (angle - radius * 1.5 * 2 * np.pi)))

    assert np.allclose(unwound[labels == 0], 0, atol=1e-4)
    assert np.allclose(np.abs(unwound[labels == 1]), np.pi, atol=1e-4)


def test_it_refuses_no_samples():
    with pytest.raises(ValueError):
        spirals_make(samples=0, seed=0)
