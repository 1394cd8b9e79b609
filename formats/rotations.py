"""Quaternion and rotation helpers, vectorised over any leading dimensions.

Quaternions are (..., 4) arrays in (w, x, y, z) order, as in HumanML3D. Everything is float64 numpy;
callers cast at the end.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "qmul",
    "qinv",
    "qrot",
    "qbetween",
    "quat_to_matrix",
    "matrix_to_cont6d",
    "cont6d_to_matrix",
    "yaw_quat",
    "gaussian_smooth",
]

_EPS = 1e-12


def qmul(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Hamilton product q * r (apply r first, then q)."""
    w1, x1, y1, z1 = np.moveaxis(q, -1, 0)
    w2, x2, y2, z2 = np.moveaxis(r, -1, 0)
    return np.stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ),
        axis=-1,
    )


def qinv(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions (the conjugate)."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4); shapes broadcast."""
    qvec = q[..., 1:]
    uv = np.cross(qvec, v)
    uuv = np.cross(qvec, uv)
    return v + 2.0 * (q[..., :1] * uv + uuv)


def qbetween(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The shortest rotation taking direction u onto direction v (both (..., 3)).

    Opposite directions have no unique shortest rotation; HumanML3D divides by zero there. We turn by
    180 degrees about an axis perpendicular to u instead, so such poses (a bone pointing straight
    against its rest direction) stay finite.
    """
    u, v = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))
    axis = np.cross(u, v)
    w = np.sqrt((u * u).sum(-1) * (v * v).sum(-1)) + (u * v).sum(-1)
    q = np.concatenate([w[..., None], axis], axis=-1)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    opposite = norm[..., 0] < _EPS * np.maximum(1.0, np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    if np.any(opposite):
        uo = u[opposite]
        helper = np.where(np.abs(uo[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        perp = np.cross(uo, helper)
        perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
        q[opposite] = np.concatenate([np.zeros((len(perp), 1)), perp], axis=-1)
        norm[opposite] = 1.0
    return q / norm


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from quaternions (..., 4); they need not be normalised."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    s = 2.0 / (q * q).sum(-1)
    rows = (
        1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w),
        s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w),
        s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y),
    )  # fmt: skip
    return np.stack(rows, axis=-1).reshape(q.shape[:-1] + (3, 3))


def matrix_to_cont6d(m: np.ndarray) -> np.ndarray:
    """The continuous 6D rotation representation (Zhou et al. 2019): the first two matrix columns."""
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def cont6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Rotation matrices from 6D vectors by Gram-Schmidt (the inverse of `matrix_to_cont6d`)."""
    x = d6[..., 0:3] / np.linalg.norm(d6[..., 0:3], axis=-1, keepdims=True)
    z = np.cross(x, d6[..., 3:6])
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def yaw_quat(half_angle: np.ndarray) -> np.ndarray:
    """Quaternions (cos a, 0, sin a, 0): a rotation by 2a about +Y."""
    zeros = np.zeros_like(half_angle)
    return np.stack([np.cos(half_angle), zeros, np.sin(half_angle), zeros], axis=-1)


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter along axis 0 with edge replication.

    Matches scipy.ndimage.gaussian_filter1d(x, sigma, axis=0, mode="nearest") (truncate 4.0), which
    HumanML3D uses to smooth the facing direction, without making scipy a dependency.
    """
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(x, [(radius, radius)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    # A sliding window over the padded frames, weighted by the (symmetric) kernel.
    windows = np.lib.stride_tricks.sliding_window_view(padded, len(kernel), axis=0)
    return windows @ kernel
