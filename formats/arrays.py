"""NPY and NPZ motion files: joint arrays, HumanML3D feature arrays and AMASS poses.

Arrays are read with `allow_pickle=False`: a motion file never gets to run code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.amass import amass_joints, is_amass
from formats.checks import check_frames_finite, load_numpy_file
from formats.errors import FormatError
from formats.features import FEATURE_DIM, FEATURE_FPS
from formats.skeleton import NUM_JOINTS
from formats.units import Placement

__all__ = ["SourceMotion", "SMPL_FAMILY_JOINT_COUNTS", "read_motion_array"]

# Joint arrays of the SMPL family all start with the 22 body joints: SMPL 24, SMPL-H 52, SMPL-X 55.
SMPL_FAMILY_JOINT_COUNTS = (NUM_JOINTS, 24, 52, 55)
_JOINT_KEYS = ("joints", "positions")
_FPS_KEYS = ("fps", "mocap_framerate", "mocap_frame_rate", "framerate")
_AMASS_PLACEMENT = Placement(unit="m", up="+z", is_mirrored=False)
_SHAPES = "(T, 22|24|52|55, 3) joint positions or (T, 263) HumanML3D features"


@dataclass(frozen=True)
class SourceMotion:
    """A motion as its file holds it: joints in file coordinates (or features), before units, axes
    and frame rate are normalised. `placement` is None when the units and axes must be detected."""

    joints: np.ndarray | None  # (T, 22, 3)
    feats: np.ndarray | None  # (T, 263)
    fps: float
    placement: Placement | None


def read_motion_array(path: Path, *, fps: float | None, body_model: Path | None) -> SourceMotion:
    """Read a .npy or .npz motion. A file that states no frame rate gets `fps`, else 20 (HumanML3D's).

    Raises FormatError for unreadable files, pickled objects, wrong shapes and non-finite values.
    """
    loaded = load_numpy_file(path)
    default_fps = FEATURE_FPS if fps is None else fps
    if isinstance(loaded, np.ndarray):
        return _from_array(path, loaded, default_fps)
    if is_amass(loaded):
        joints = amass_joints(path, loaded, body_model)
        return SourceMotion(_finite(path, joints), None, _stated_fps(path, loaded, default_fps), _AMASS_PLACEMENT)
    for key in _JOINT_KEYS:
        if key in loaded:
            return _from_array(path, loaded[key], _stated_fps(path, loaded, default_fps), name=f"'{key}'")
    raise FormatError(
        path,
        f"holds {', '.join(sorted(loaded)) or 'no arrays'}; expected a 'joints' or 'positions' array, "
        "or AMASS 'poses' and 'trans'",
    )


def _from_array(path: Path, array: np.ndarray, fps: float, name: str = "the array") -> SourceMotion:
    """Joints (T, J, 3) whose first 22 are the SMPL joints, or features (T, 263) passed through."""
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise FormatError(path, f"{name} holds {array.dtype} values, not numbers")
    if array.ndim == 2 and array.shape[1] == FEATURE_DIM and array.shape[0] > 0:
        return SourceMotion(None, _finite(path, array), FEATURE_FPS, None)
    if array.ndim == 3 and array.shape[1] in SMPL_FAMILY_JOINT_COUNTS and array.shape[2] == 3 and array.shape[0] > 0:
        joints = _finite(path, array[:, :NUM_JOINTS])
        return SourceMotion(joints, None, fps, None)
    raise FormatError(path, f"{name} has shape {array.shape}; expected {_SHAPES}")


def _stated_fps(path: Path, arrays: dict[str, np.ndarray], default: float) -> float:
    for key in _FPS_KEYS:
        if key in arrays:
            value = np.asarray(arrays[key]).ravel()
            is_rate = value.size == 1 and np.issubdtype(value.dtype, np.number) and np.isfinite(value[0])
            if not is_rate or value[0] <= 0:
                raise FormatError(path, f"'{key}' must be one positive frame rate, got {value[:3]}")
            return float(value[0])
    return default


def _finite(path: Path, array: np.ndarray) -> np.ndarray:
    values = np.asarray(array, dtype=np.float64)
    check_frames_finite(path, values)
    return values
