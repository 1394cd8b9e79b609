"""What the stick figure shows, projected once for every renderer (GIF, contact sheet, results page).

A fixed orthographic camera looks at the motion from the front left and a little above (the
canonical frame 0 faces +Z, left toward +X), framed so that every joint of every frame and the root
trajectory stay in view. Coordinates are those of a square view: x to the right and y down, the
whole view spanning [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from formats import JOINT_INDEX, PARENTS, SMPL_JOINTS, canonicalize_joints

if TYPE_CHECKING:
    from tmrcli.library.motion_segment import MotionSegment

__all__ = ["BONES", "SIDE_COLOURS", "Scene", "build_scene"]

# Bones as (parent, child) joint pairs with the side they belong to, from the skeleton table.
BONES: tuple[tuple[int, int, str], ...] = tuple(
    (parent, child, SMPL_JOINTS[child].split("_")[0] if SMPL_JOINTS[child].startswith(("left_", "right_")) else "spine")
    for child, parent in enumerate(PARENTS)
    if parent >= 0
)
SIDE_COLOURS = {"left": "#1f6fd1", "right": "#d6332a", "spine": "#2b2b2b"}
GRID_COLOUR = "#c8c8c8"
TRAJECTORY_COLOUR = "#8a8a8a"

_AZIMUTH = np.radians(35.0)  # camera direction from +Z toward +X, about Y
_ELEVATION = np.radians(20.0)
_MARGIN = 0.08  # share of the view left free on each side
_GRID_STEP = 0.5  # metres between ground lines
_GRID_BORDER = 1.0  # metres of floor drawn beyond the motion


@dataclass(frozen=True)
class Scene:
    """A motion segment as drawn: every array in view coordinates (x right, y down, [0, 1])."""

    joints: np.ndarray  # (T, 22, 2)
    trajectory: np.ndarray  # (T, 2) the pelvis dropped onto the floor
    grid: np.ndarray  # (L, 2, 2) floor lines, from one end to the other
    fps: float
    start: float  # seconds in the source file of frame 0, for the clock

    @property
    def num_frames(self) -> int:
        return len(self.joints)

    def time_of(self, frame: int) -> float:
        """Seconds in the source file at which `frame` is shown."""
        return self.start + frame / self.fps


def build_scene(segment: MotionSegment) -> Scene:
    """Canonicalise the segment's joints (floor at y = 0, frame 0 at the origin facing +Z) and
    project them, the floor grid and the root trajectory through the fixed camera."""
    joints = canonicalize_joints(segment.joints).astype(np.float64)
    trajectory = joints[:, JOINT_INDEX["pelvis"]] * np.array([1.0, 0.0, 1.0])
    grid = _floor_grid(joints)
    joints_2d, trajectory_2d, grid_2d = _project(joints), _project(trajectory), _project(grid)
    low, side = _framing(np.concatenate([joints_2d.reshape(-1, 2), trajectory_2d]))
    return Scene(
        joints=(joints_2d - low) / side,
        trajectory=(trajectory_2d - low) / side,
        grid=(grid_2d - low) / side,
        fps=segment.fps,
        start=segment.start,
    )


def _project(points: np.ndarray) -> np.ndarray:
    """World points (..., 3) to the camera's image plane (..., 2): x right, y down, in metres."""
    forward = -np.array(
        [np.cos(_ELEVATION) * np.sin(_AZIMUTH), np.sin(_ELEVATION), np.cos(_ELEVATION) * np.cos(_AZIMUTH)]
    )
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([points @ right, -(points @ up)], axis=-1)


def _floor_grid(joints: np.ndarray) -> np.ndarray:
    """Lines (L, 2, 3) on the floor every _GRID_STEP metres, covering the motion plus a border."""
    low = np.floor((joints[..., [0, 2]].min(axis=(0, 1)) - _GRID_BORDER) / _GRID_STEP) * _GRID_STEP
    high = np.ceil((joints[..., [0, 2]].max(axis=(0, 1)) + _GRID_BORDER) / _GRID_STEP) * _GRID_STEP
    lines = [((x, 0.0, low[1]), (x, 0.0, high[1])) for x in np.arange(low[0], high[0] + 1e-9, _GRID_STEP)]
    lines += [((low[0], 0.0, z), (high[0], 0.0, z)) for z in np.arange(low[1], high[1] + 1e-9, _GRID_STEP)]
    return np.array(lines)


def _framing(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The lower corner and side of the square (view units) that holds `points` centred, with margins."""
    low, high = points.min(axis=0), points.max(axis=0)
    side = max(float((high - low).max()), 1e-6) / (1.0 - 2.0 * _MARGIN)
    return (low + high) / 2.0 - side / 2.0, side
