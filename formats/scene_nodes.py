"""Scene-graph animation (FBX, glTF): a tree of nodes, each with a local transform per frame.

FBX and glTF store a skeleton as scene nodes, not as BVH channels: a node's world transform is its
parent's world transform times its own local one (translation, rotation, scale, and for FBX pivots and
pre-rotations, which the loader folds in). Both readers hand this module the same `SceneAnimation`;
it maps the node names onto the SMPL joints and composes only the nodes those joints need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.arrays import SourceMotion
from formats.checks import check_frames_finite
from formats.errors import FormatError
from formats.rigs import map_skeleton
from formats.rotations import quat_to_matrix

__all__ = [
    "IRREGULAR_KEYS_FPS",
    "SceneAnimation",
    "Channel",
    "key_grid_rate",
    "sample_channel",
    "slerp",
    "linear_part",
    "node_world_positions",
    "scene_motion",
]

# Keys that are not on one regular grid (hand-keyed, or thinned by an exporter) are sampled at this rate.
IRREGULAR_KEYS_FPS = 30.0
# Two keys count as one grid step apart when their spacing matches to this fraction of a step.
_GRID_TOLERANCE = 0.01
# Key times this close (seconds) to a frame's time are that frame (float32 times drift by ~1e-7 s).
_SAME_TIME = 1e-5


@dataclass(frozen=True)
class SceneAnimation:
    """One animation of a scene: node names and parents, and each node's local transform per frame.

    `translation(node)` is (T or 1, 3) and `linear(node)` (T or 1, 3, 3), rotation times scale, in
    the file's units, with column vectors: a child's world position is its parent's plus the parent's
    world linear part applied to the child's translation (1 row for a node that does not move).
    `joints` lists the nodes that may be skeleton joints (a skin's joints, an FBX's bones or nulls):
    the names the SMPL mapping chooses from.
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for a root
    joints: tuple[int, ...]
    fps: float
    num_frames: int
    translation: Callable[[int], np.ndarray]
    linear: Callable[[int], np.ndarray]


def linear_part(rotation: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """R @ S (..., 3, 3) from unit quaternions (..., 4) in (w, x, y, z) order and scales (..., 3)."""
    return quat_to_matrix(rotation) * scale[..., None, :]


def node_world_positions(scene: SceneAnimation, nodes: Sequence[int]) -> np.ndarray:
    """World positions (T, len(nodes), 3) of `nodes`, composing each needed ancestor once (a node's
    own rotation only when it has a needed child).

    Raises FormatError when the parents form a cycle (a corrupt file).
    """
    positions: dict[int, np.ndarray] = {}
    linears: dict[int, np.ndarray] = {}

    def linear(node: int) -> np.ndarray:
        if node not in linears:
            parent = scene.parents[node]
            own = scene.linear(node)
            linears[node] = own if parent < 0 else linear(parent) @ own
        return linears[node]

    for node in nodes:
        chain = [node]
        while (parent := scene.parents[chain[-1]]) >= 0 and parent not in positions:
            if len(chain) > len(scene.parents):
                raise FormatError(scene.path, "the node hierarchy has a cycle")
            chain.append(parent)
        for link in reversed(chain):
            if link in positions:
                continue
            parent = scene.parents[link]
            offset = scene.translation(link)
            if parent < 0:
                positions[link] = offset
            else:
                linear(parent)  # parents first, so the recursion stays one level deep
                positions[link] = positions[parent] + (linears[parent] @ offset[..., None])[..., 0]
    shape = (scene.num_frames, 3)
    return np.stack([np.broadcast_to(positions[node], shape) for node in nodes], axis=1)


def scene_motion(scene: SceneAnimation, skeleton_map: Mapping[str, str] | None) -> SourceMotion:
    """The SMPL joints of a scene animation, in file units and axes (normalised later, as for BVH)."""
    names = [scene.names[node] for node in scene.joints]
    mapping = map_skeleton(names, scene.path, skeleton_map)
    positions = node_world_positions(scene, [scene.joints[source] for source in mapping.sources])
    check_frames_finite(scene.path, positions)
    return SourceMotion(mapping.apply(positions), None, scene.fps, None)


@dataclass(frozen=True)
class Channel:
    """One animated property: key times, key values and how to interpolate between them (glTF terms)."""

    times: np.ndarray  # (K,) seconds
    values: np.ndarray  # (K, C), or (K, 3, C) for CUBICSPLINE: in-tangent, value, out-tangent
    interpolation: str


def key_grid_rate(key_times: list[np.ndarray]) -> float:
    """The rate of the grid every key lies on (the shortest spacing that others are multiples of),
    or IRREGULAR_KEYS_FPS when the keys lie on no such grid or are too few to tell."""
    steps = np.concatenate([np.diff(times) for times in key_times] or [np.zeros(0)])
    steps = steps[steps > 1e-6]
    if steps.size == 0:
        return IRREGULAR_KEYS_FPS
    step = float(np.median(steps[steps < 1.5 * steps.min()]))
    multiples = steps / step
    if np.abs(multiples - np.round(multiples)).max() > _GRID_TOLERANCE:
        return IRREGULAR_KEYS_FPS
    return 1.0 / step


def sample_channel(channel: Channel, t: np.ndarray, *, is_rotation: bool) -> np.ndarray:
    """The channel's values (len(t), C) at times `t`, held constant before the first key and after the last."""
    times, values = channel.times, channel.values
    if channel.interpolation == "CUBICSPLINE":
        keys = values[:, 1]
    else:
        keys = values
    if len(times) == 1:
        return np.broadcast_to(keys[0], (len(t), keys.shape[-1]))
    if len(times) == len(t) and np.abs(times - t).max() < _SAME_TIME:
        return keys  # keyed on every frame (a baked take): nothing to interpolate
    if channel.interpolation == "STEP":
        return keys[np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)]
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = times[k + 1] - times[k]
    u = np.clip((t - times[k]) / np.where(span > 0, span, 1.0), 0.0, 1.0)[:, None]
    if channel.interpolation == "CUBICSPLINE":
        u2, u3 = u * u, u * u * u
        result = (
            (2 * u3 - 3 * u2 + 1) * keys[k]
            + (u3 - 2 * u2 + u) * span[:, None] * values[k, 2]
            + (-2 * u3 + 3 * u2) * keys[k + 1]
            + (u3 - u2) * span[:, None] * values[k + 1, 0]
        )
    elif is_rotation:
        # Frames on a key (most of them, in a baked take with some keys dropped) need no slerp.
        result = np.where(u < 0.5, keys[k], keys[k + 1])
        between = np.flatnonzero((u[:, 0] > _SAME_TIME) & (u[:, 0] < 1 - _SAME_TIME))
        result[between] = slerp(keys[k[between]], keys[k[between] + 1], u[between])
        return result
    else:
        result = (1 - u) * keys[k] + u * keys[k + 1]
    if is_rotation:
        result /= np.maximum(np.linalg.norm(result, axis=-1, keepdims=True), 1e-12)
    return result


def slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions (N, 4) along the shorter arc; lerp when nearly equal."""
    q0 = q0 / np.maximum(np.linalg.norm(q0, axis=-1, keepdims=True), 1e-12)
    q1 = q1 / np.maximum(np.linalg.norm(q1, axis=-1, keepdims=True), 1e-12)
    dot = (q0 * q1).sum(-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    angle = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(angle)
    is_close = sin < 1e-6
    safe = np.where(is_close, 1.0, sin)
    w0 = np.where(is_close, 1 - u, np.sin((1 - u) * angle) / safe)
    w1 = np.where(is_close, u, np.sin(u * angle) / safe)
    result = w0 * q0 + w1 * q1
    return result / np.maximum(np.linalg.norm(result, axis=-1, keepdims=True), 1e-12)
