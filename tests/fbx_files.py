"""ASCII FBX files made at test time from a real BVH: each joint a LimbNode model whose Lcl Rotation
(and, for position channels, Lcl Translation) is keyed linearly on every frame, in the joint's own
Euler order. Variants drop the animation, empty its keys or poison a value, for the error tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gltf_files import bvh_tracks_raw

KTIME_PER_SECOND = 46_186_158_000
# BVH applies its channels last to first (R = R0 @ R1 @ R2); FBX names the order they are applied in.
_FBX_ORDERS = {"XYZ": 0, "XZY": 1, "YZX": 2, "YXZ": 3, "ZXY": 4, "ZYX": 5}
_LINEAR = 4  # KeyAttrFlags: linear interpolation


def write_ascii_fbx(path: Path, bvh: Path, *, frames: int | None = None, animated: bool = True, poison: float | None = None, empty_keys: bool = False) -> Path:
    names, parents, offsets, positions, angles, orders, fps = bvh_tracks_raw(bvh)
    if frames is not None:
        positions, angles = positions[:frames], angles[:frames]
    times = (np.arange(len(angles)) * KTIME_PER_SECOND / fps).astype(np.int64)
    objects, connections = [], []
    ids = iter(range(10_000, 10**9))
    model_ids = []
    for j, name in enumerate(names):
        model = next(ids)
        model_ids.append(model)
        order = _FBX_ORDERS["".join("XYZ"[axis] for axis in reversed(orders[j]))]
        x, y, z = positions[0, j]
        objects.append(
            f'\tModel: {model}, "Model::{name}", "LimbNode" {{\n\t\tVersion: 232\n\t\tProperties70:  {{\n'
            f'\t\t\tP: "RotationActive", "bool", "", "",1\n\t\t\tP: "RotationOrder", "enum", "", "",{order}\n'
            f'\t\t\tP: "Lcl Translation", "Lcl Translation", "", "A",{x:.9g},{y:.9g},{z:.9g}\n'
            f"\t\t}}\n\t}}"
        )
        attribute = next(ids)
        objects.append(f'\tNodeAttribute: {attribute}, "NodeAttribute::{name}", "LimbNode" {{\n\t\tTypeFlags: "Skeleton"\n\t}}')
        connections += [f'\tC: "OO",{attribute},{model}', f'\tC: "OO",{model},{0 if parents[j] < 0 else model_ids[parents[j]]}']
    if animated:
        stack, layer = next(ids), next(ids)
        objects.append(f'\tAnimationStack: {stack}, "AnimStack::Take 001", "" {{\n\t\tProperties70:  {{\n'
                       f'\t\t\tP: "LocalStop", "KTime", "Time", "",{times[-1]}\n\t\t}}\n\t}}')
        objects.append(f'\tAnimationLayer: {layer}, "AnimLayer::BaseLayer", "" {{\n\t}}')
        connections.append(f'\tC: "OO",{layer},{stack}')
        for j in range(len(names)):
            by_axis = np.zeros((len(angles), 3))
            by_axis[:, orders[j]] = np.degrees(angles[:, j])  # channel order -> X, Y, Z
            tracks = [("Lcl Rotation", by_axis)]
            if not np.allclose(positions[:, j], positions[0, j]):
                tracks.append(("Lcl Translation", positions[:, j]))
            for prop, values in tracks:
                node = next(ids)
                objects.append(f'\tAnimationCurveNode: {node}, "AnimCurveNode::{prop[4]}", "" {{\n\t}}')
                connections += [f'\tC: "OO",{node},{layer}', f'\tC: "OP",{node},{model_ids[j]}, "{prop}"']
                for axis in range(3):
                    curve = next(ids)
                    keys = values[:, axis].copy()
                    if poison is not None and j == 0 and axis == 0:
                        keys[len(keys) // 2] = poison
                    key_times = times[:0] if empty_keys else times
                    keys = keys[:0] if empty_keys else keys
                    objects.append(
                        f'\tAnimationCurve: {curve}, "AnimCurve::", "" {{\n\t\tDefault: 0\n\t\tKeyVer: 4008\n'
                        f"\t\tKeyTime: *{len(key_times)} {{\n\t\t\ta: {','.join(map(str, key_times))}\n\t\t}}\n"
                        f"\t\tKeyValueFloat: *{len(keys)} {{\n\t\t\ta: {','.join(f'{v:.9g}' for v in keys)}\n\t\t}}\n"
                        f"\t\tKeyAttrFlags: *1 {{\n\t\t\ta: {_LINEAR}\n\t\t}}\n"
                        f"\t\tKeyAttrDataFloat: *4 {{\n\t\t\ta: 0,0,0,0\n\t\t}}\n"
                        f"\t\tKeyAttrRefCount: *1 {{\n\t\t\ta: {len(keys)}\n\t\t}}\n\t}}"
                    )
                    connections.append(f'\tC: "OP",{curve},{node}, "d|{"XYZ"[axis]}"')
    text = (
        "; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n\tFBXHeaderVersion: 1003\n\tFBXVersion: 7400\n}\n"
        'GlobalSettings:  {\n\tVersion: 1000\n\tProperties70:  {\n\t\tP: "UpAxis", "int", "Integer", "",1\n'
        '\t\tP: "UpAxisSign", "int", "Integer", "",1\n\t\tP: "UnitScaleFactor", "double", "Number", "",1\n\t}\n}\n'
        "Objects:  {\n" + "\n".join(objects) + "\n}\nConnections:  {\n" + "\n".join(connections) + "\n}\n"
    )
    path.write_text(text)
    return path
