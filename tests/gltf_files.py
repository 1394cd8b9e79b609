"""glTF files made at test time from a real BVH: the same skeleton and motion as scene nodes.

Each BVH joint becomes a node (translation = OFFSET, or the position channels, rotation = the Euler
channels as a quaternion), the joints become a skin, and the frames become one animation per entry
of `animations`, keyed every `step`-th frame with the given interpolation.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
import pygltflib

from formats.bvh import read_bvh
from formats.rotations import qmul


@lru_cache(maxsize=4)
def bvh_tracks_raw(bvh: Path) -> tuple[list[str], list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Names, parents, OFFSETs (J, 3), local translations (T, J, 3), Euler angles (T, J, 3, radians, in
    channel order), channel axes (J, 3; 0=x) and fps of a BVH (cached: the arrays are shared, never changed)."""
    clip = read_bvh(bvh)
    values = np.loadtxt(io.BytesIO(clip.motion), ndmin=2)[: clip.num_frames]
    translations = np.where(clip.position_columns >= 0, values[:, np.maximum(clip.position_columns, 0)], clip.offsets)
    angles = np.radians(np.where(clip.rotation_columns >= 0, values[:, np.maximum(clip.rotation_columns, 0)], 0.0))
    return list(clip.names), list(clip.parents), clip.offsets, translations, angles, clip.rotation_axes, clip.fps


def bvh_tracks(bvh: Path) -> tuple[list[str], list[int], np.ndarray, np.ndarray, float]:
    """Names, parents, local translations (T, J, 3) and rotations (T, J, 4; w, x, y, z) of a BVH."""
    names, parents, _, translations, angles, axes, fps = bvh_tracks_raw(bvh)
    rotations = np.zeros(angles.shape[:2] + (4,))
    rotations[..., 0] = 1.0
    for k in range(3):
        turn = np.zeros(angles.shape[:2] + (4,))
        turn[..., 0] = np.cos(angles[..., k] / 2)
        np.put_along_axis(turn, axes[None, :, k, None] + 1, np.sin(angles[..., k] / 2)[..., None], axis=-1)
        rotations = qmul(rotations, turn)
    return names, parents, translations, rotations, fps


def write_gltf(
    path: Path,
    bvh: Path,
    *,
    animations: tuple[str, ...] = ("Take",),
    interpolation: str = "LINEAR",
    step: int = 1,
    frames: int | None = None,
    skin: bool = True,
) -> Path:
    """Write `bvh` as a .glb or .gltf (by suffix; buffers embedded) and return its path.

    Each animation is the clip shifted by one more frame than the last, so they differ.
    """
    names, parents, translations, rotations, fps = bvh_tracks(bvh)
    if frames is not None:
        translations, rotations = translations[:frames], rotations[:frames]
    blob = bytearray()
    accessors: list[pygltflib.Accessor] = []
    views: list[pygltflib.BufferView] = []

    def add(array: np.ndarray, kind: str) -> int:
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        views.append(pygltflib.BufferView(buffer=0, byteOffset=len(blob), byteLength=len(data)))
        blob.extend(data + b"\0" * (-len(data) % 4))
        accessors.append(pygltflib.Accessor(bufferView=len(views) - 1, componentType=5126, count=len(array), type=kind))
        return len(accessors) - 1

    nodes = [
        pygltflib.Node(
            name=name,
            translation=[float(v) for v in translations[0, j]],
            rotation=[float(v) for v in np.roll(rotations[0, j], -1)],
            children=[c for c, p in enumerate(parents) if p == j],
        )
        for j, name in enumerate(names)
    ]
    gltf_animations = []
    for shift, name in enumerate(animations):
        keyed = np.arange(shift, len(translations), step)
        times = add((keyed - shift) / fps, "SCALAR")
        samplers, channels = [], []
        for j in range(len(names)):
            for target, values, kind in (
                ("translation", translations[keyed, j], "VEC3"),
                ("rotation", np.roll(rotations[keyed, j], -1, axis=-1), "VEC4"),
            ):
                if interpolation == "CUBICSPLINE":  # zero tangents: the keys themselves are hit exactly
                    zeros = np.zeros_like(values)
                    values = np.stack([zeros, values, zeros], axis=1).reshape(-1, values.shape[-1])
                samplers.append(pygltflib.AnimationSampler(input=times, output=add(values, kind), interpolation=interpolation))
                channels.append(
                    pygltflib.AnimationChannel(sampler=len(samplers) - 1, target=pygltflib.AnimationChannelTarget(node=j, path=target))
                )
        gltf_animations.append(pygltflib.Animation(name=name, samplers=samplers, channels=channels))
    document = pygltflib.GLTF2(
        scene=0,
        scenes=[pygltflib.Scene(nodes=[j for j, p in enumerate(parents) if p < 0])],
        nodes=nodes,
        skins=[pygltflib.Skin(joints=list(range(len(names))))] if skin else [],
        animations=gltf_animations,
        accessors=accessors,
        bufferViews=views,
        buffers=[pygltflib.Buffer(byteLength=len(blob))],
    )
    document.set_binary_blob(bytes(blob))
    if path.suffix == ".gltf":
        document.convert_buffers(pygltflib.BufferFormat.DATAURI)
        document.save_json(str(path))
    else:
        document.save_binary(str(path))
    return path
