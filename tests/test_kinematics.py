"""Rotations and forward kinematics against their textbook definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from formats.kinematics import axis_angle_to_matrix, euler_to_matrix, forward_kinematics


def _about(axis: int, angle: float) -> np.ndarray:
    """The right-handed rotation matrix about a coordinate axis, written out."""
    c, s = np.cos(angle), np.sin(angle)
    return {
        0: np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        1: np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        2: np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))) + [(2, 0), (1,)])
def test_euler_angles_compose_in_the_listed_order(order: tuple[int, ...]) -> None:
    angles = np.random.default_rng(len(order)).uniform(-np.pi, np.pi, size=(5, len(order)))
    result = euler_to_matrix(angles, np.array(order))
    for frame in range(5):
        expected = np.eye(3)
        for axis, angle in zip(order, angles[frame]):
            expected = expected @ _about(axis, angle)
        np.testing.assert_allclose(result[frame], expected, atol=1e-12)


def test_axis_angle_matches_the_rotation_about_its_axis() -> None:
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(50, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = rng.uniform(0, np.pi, size=50)
    rotations = axis_angle_to_matrix(axes * angles[:, None])
    np.testing.assert_allclose(np.einsum("nij,nj->ni", rotations, axes), axes, atol=1e-12)  # the axis stays
    np.testing.assert_allclose((np.trace(rotations, axis1=1, axis2=2) - 1) / 2, np.cos(angles), atol=1e-12)
    np.testing.assert_allclose(axis_angle_to_matrix(np.array([0.0, 0.3, 0.0])), _about(1, 0.3), atol=1e-12)
    np.testing.assert_array_equal(axis_angle_to_matrix(np.zeros(3)), np.eye(3))


def test_forward_kinematics_of_a_bent_arm() -> None:
    """Shoulder at the origin, elbow 1 along +x, wrist 1 further: a quarter turn about z at the
    shoulder points the arm along +y, and a further quarter turn at the elbow points the forearm to -x."""
    translations = np.array([[[0.0, 0, 0], [1, 0, 0], [1, 0, 0]]])
    rotations = np.stack([_about(2, np.pi / 2), _about(2, np.pi / 2), np.eye(3)])[None]
    positions = forward_kinematics([-1, 0, 1], rotations, translations)
    np.testing.assert_allclose(positions[0], [[0, 0, 0], [0, 1, 0], [-1, 1, 0]], atol=1e-12)
