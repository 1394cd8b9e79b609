"""FBX (binary and ASCII): the skeleton and its baked animation, through ufbx (the `pufbx` binding).

ufbx reads the file and bakes each node's transform (pivots, pre- and post-rotations, inherit modes
folded in) to translation and quaternion keys; here they are sampled per frame at the file's key rate
and composed with numpy. The skeleton is the file's bones (or its nulls, for rigs made of them);
positions are taken in the skeleton's own units, without the scale of the nodes above it (a Blender
armature object scaled by 100 to turn its metres into the file's centimetres, whatever the joints
were authored in) but with their rotation (the armature's turn to the file's up axis), so that, as
for BVH, `formats.units` reads the unit off the body. `pufbx` is an optional
dependency (`pip install 'tmr[fbx]'`); without it an FBX fails with that install command.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from formats.checks import open_motion_file
from formats.errors import FormatError
from formats.scene_nodes import Channel, SceneAnimation, key_grid_rate, linear_part, sample_channel

__all__ = ["FBX_SUFFIXES", "FBX_INSTALL", "read_fbx"]

FBX_SUFFIXES = (".fbx",)
FBX_INSTALL = "pip install 'tmr[fbx]'"
_BINARY_MAGIC = b"Kaydara FBX Binary"
# ufbx element types of node attributes: a bone (LimbNode) and an empty (Null).
_BONE, _EMPTY = 5, 6


def read_fbx(path: Path) -> SceneAnimation:
    """The FBX's joints and its first animation take, sampled at the key rate of that take.

    Raises FormatError for a file that is not FBX (or is truncated), holds no skeleton or no
    animation, or when the FBX reader is not installed.
    """
    pufbx = _pufbx(path)
    _check_header(path)
    try:
        scene = pufbx.load_fbx(str(path))
    except Exception as error:  # pufbx.UFBXError and the binding's own failures, as one line
        raise FormatError(path, f"not a readable FBX file: {_one_line(error)}") from None
    nodes = list(scene.nodes)
    names = tuple(node.name for node in nodes)
    index = {node.typed_id: i for i, node in enumerate(nodes)}
    parents = tuple(-1 if node.parent is None else index[node.parent.typed_id] for node in nodes)
    kinds = [int(node.attrib_type) for node in nodes]
    joints = [i for i, kind in enumerate(kinds) if kind == _BONE] or [i for i, kind in enumerate(kinds) if kind == _EMPTY]
    if not joints:
        raise FormatError(path, "holds no skeleton: no bone or null nodes")
    stacks = list(scene.anim_stacks)
    if not stacks:
        raise FormatError(path, "holds no animation")
    fps = _key_rate(scene)
    try:
        baked = pufbx.bake_anim(scene, stacks[0].anim, resample_rate=fps, key_reduction_enabled=False)
    except Exception as error:
        raise FormatError(path, f"cannot evaluate its animation: {_one_line(error)}") from None
    channels = {}
    for node in baked.modified_nodes:
        at = index[node.typed_id]
        for part, keys, width in (("translation", node.translation_keys, 3), ("rotation", node.rotation_keys, 4), ("scale", node.scale_keys, 3)):
            if len(keys):
                values = keys["value"].view((np.float64, width)).reshape(len(keys), width)
                channels[(at, part)] = Channel(keys["time"].copy(), values, "LINEAR")
    if not channels:
        raise FormatError(path, "holds no animation: its take moves no node")
    start, end = float(baked.key_time_min), float(baked.key_time_max)
    if not (np.isfinite(start) and np.isfinite(end)) or end <= start:
        raise FormatError(path, "holds no animation: its take has no frames")
    num_frames = int(round((end - start) * fps)) + 1
    frame_times = start + np.arange(num_frames) / fps
    joint_set = set(joints)
    # Copied now: the binding's node objects point into the scene, which is freed with `scene`.
    rest = {node: _rest(nodes[node]) for node in joints}
    # A skeleton root keeps the turn of the nodes above it (a Blender armature's Z-up to the file's
    # Y-up), not their scale or offset, which are in other units (see the module's docstring).
    above = {node: _rotation(nodes[parents[node]]) for node in joints if parents[node] >= 0 and parents[node] not in joint_set}

    def track(node: int, part: str) -> np.ndarray:
        """(T, C) samples of a baked property, or (1, C) the node's rest value."""
        channel = channels.get((node, part))
        if channel is None:
            return rest[node][part][None]
        return sample_channel(channel, frame_times, is_rotation=part == "rotation")

    def translation(node: int) -> np.ndarray:
        own = track(node, "translation")
        return own @ above[node].T if node in above else own

    def linear(node: int) -> np.ndarray:
        own = linear_part(np.roll(track(node, "rotation"), 1, axis=-1), track(node, "scale"))
        return above[node] @ own if node in above else own

    # Only joints and their joint ancestors are composed: a joint whose parent is no joint is a root.
    skeleton_parents = tuple(parent if parent in joint_set else -1 for parent in parents)
    return SceneAnimation(path, names, skeleton_parents, tuple(joints), fps, num_frames, translation, linear)


def _pufbx(path: Path):
    try:
        import pufbx
    except ImportError:
        raise FormatError(path, f"reading FBX needs the FBX reader, not installed: {FBX_INSTALL}") from None
    return pufbx


def _check_header(path: Path) -> None:
    """Reject what is plainly not FBX before the loader sees it (binary FBX starts with its magic,
    ASCII FBX is text with '; FBX' or 'FBXHeaderExtension' near the top)."""
    with open_motion_file(path) as file:
        head = file.read(4096)
    if not head.strip():
        raise FormatError(path, "the file is empty")
    if not head.startswith(_BINARY_MAGIC) and b"FBX" not in head:
        raise FormatError(path, "not an FBX file: neither the binary FBX header nor an ASCII FBX header")


def _key_rate(scene) -> float:
    times = [curve.get_keyframes()["time"] for curve in scene.anim_curves]
    return key_grid_rate([t for t in times if len(t) > 1])


def _rest(node) -> dict[str, np.ndarray]:
    transform = node.local_transform
    return {
        "translation": np.array(list(transform.translation), dtype=np.float64),
        "rotation": np.array(list(transform.rotation), dtype=np.float64),
        "scale": np.array(list(transform.scale), dtype=np.float64),
    }


def _rotation(node) -> np.ndarray:
    """The rotation (3, 3) in a node's rest world matrix, its scale divided out."""
    world = node.node_to_world
    matrix = np.array([[world[f"m{row}{column}"] for column in range(3)] for row in range(3)], dtype=np.float64)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=0, keepdims=True), 1e-12)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__
