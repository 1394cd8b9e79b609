"""glTF 2.0 (.gltf, .glb): the skinned skeleton and its animations, sampled at the file's key rate.

The container is read here (a GLB is a 12-byte header and two length-prefixed chunks; a .gltf is the
JSON alone, buffers in data URIs or files beside it) and the accessors decoded with numpy: pygltflib
turns the JSON into dataclasses through dataclasses_json, 0.85 s for the 200 accessors of a 22-joint
clip, a hundred times the cost of everything else here. The samplers are evaluated per frame (LINEAR
with quaternion slerp for rotations, STEP, CUBICSPLINE) for the nodes the SMPL joints need. A file may hold several animations: each is one
motion, chosen by name (`file.glb#Walk`, see `formats.motion`) or by position when it has none.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from pathlib import Path

import numpy as np

from formats.checks import open_motion_file
from formats.errors import FormatError
from formats.scene_nodes import Channel, SceneAnimation, key_grid_rate, linear_part, sample_channel

__all__ = ["GLTF_SUFFIXES", "gltf_animation_names", "read_gltf"]

GLTF_SUFFIXES = (".gltf", ".glb")
_GLB_MAGIC = b"glTF"
_GLB_HEADER = 20  # the file header (12 bytes) and the JSON chunk's length and type
_JSON_CHUNK, _BIN_CHUNK = b"JSON", b"BIN\0"
_GLB_BLOB = " glb binary chunk"  # a key no glTF JSON has
_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_PATHS = ("translation", "rotation", "scale")
_REST = {"translation": (0.0, 0.0, 0.0), "rotation": (0.0, 0.0, 0.0, 1.0), "scale": (1.0, 1.0, 1.0)}  # x, y, z, w


def gltf_animation_names(path: Path) -> list[str]:
    """The names of the file's animations, in file order (an unnamed one is called by its index)."""
    document = _load(path, json_only=True)
    return [_animation_name(animation, i) for i, animation in enumerate(document.get("animations") or [])]


def read_gltf(path: Path, animation: str | None = None) -> SceneAnimation:
    """The skin's nodes and one animation (by name or index; the first when None), at the key rate.

    Raises FormatError for a file that is not glTF, holds no skin or no animation, or whose data is
    out of range.
    """
    document = _load(path)
    if not document.get("skins"):
        raise FormatError(path, "holds no skin: a skeleton to animate is needed (a glTF of props or meshes only)")
    if not document.get("animations"):
        raise FormatError(path, "holds no animation")
    try:
        return _scene(path, document, _pick_animation(path, document, animation))
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise FormatError(path, f"the glTF data is inconsistent ({type(error).__name__}: {error})") from None


def _load(path: Path, *, json_only: bool = False) -> dict:
    """The glTF JSON, with the GLB binary chunk (if any) under the key _GLB_BLOB; `json_only` reads
    a GLB no further than its JSON chunk (listing animations needs no more)."""
    with open_motion_file(path) as file:
        data = file.read(_GLB_HEADER)
        if data.startswith(_GLB_MAGIC) and json_only and len(data) == _GLB_HEADER:
            data += file.read(struct.unpack_from("<I", data, 12)[0])
            data = data[:8] + struct.pack("<I", len(data)) + data[12:]  # the header's length, cut to what was read
        else:
            data += file.read()
    if not data.strip():
        raise FormatError(path, "the file is empty")
    blob = None
    if data.startswith(_GLB_MAGIC):
        data, blob = _glb_chunks(path, data)
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(path, f"not a glTF file: its JSON does not parse ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("asset"), dict):
        raise FormatError(path, "not a glTF file: no 'asset' object")
    version = str(document["asset"].get("version", ""))
    if not version.startswith("2."):
        raise FormatError(path, f"glTF version {version or '(none)'}; only glTF 2.0 is read")
    document[_GLB_BLOB] = blob
    return document


def _glb_chunks(path: Path, data: bytes) -> tuple[bytes, bytes | None]:
    """The JSON chunk and the binary chunk of a GLB: a 12-byte header, then length-prefixed chunks."""
    if len(data) < 20:
        raise FormatError(path, "the GLB file is truncated: no room for its header")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise FormatError(path, f"GLB version {version}; only glTF 2.0 is read")
    if length > len(data):
        raise FormatError(path, f"the GLB file is truncated: its header says {length} bytes, it has {len(data)}")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= length:
        size, kind = struct.unpack_from("<I4s", data, offset)
        if offset + 8 + size > length:
            raise FormatError(path, "the GLB file is truncated: a chunk runs past its end")
        chunks.setdefault(kind, data[offset + 8 : offset + 8 + size])
        offset += 8 + (size + 3) // 4 * 4
    if _JSON_CHUNK not in chunks:
        raise FormatError(path, "the GLB file has no JSON chunk")
    return chunks[_JSON_CHUNK], chunks.get(_BIN_CHUNK)


def _animation_name(animation: dict, index: int) -> str:
    return str(animation.get("name") or index)


def _pick_animation(path: Path, document: dict, wanted: str | None) -> dict:
    animations = document["animations"]
    names = [_animation_name(animation, i) for i, animation in enumerate(animations)]
    if wanted is None:
        return animations[0]
    if wanted in names:
        return animations[names.index(wanted)]
    raise FormatError(path, f"has no animation {wanted!r}; it holds {', '.join(repr(n) for n in names)}")


def _scene(path: Path, document: dict, animation: dict) -> SceneAnimation:
    nodes = document.get("nodes") or []
    parents = [-1] * len(nodes)
    for index, node in enumerate(nodes):
        for child in node.get("children") or []:
            parents[child] = index
    skin = max(document["skins"], key=lambda skin: len(skin.get("joints") or []))
    buffers: dict[int, bytes] = {}
    samplers = animation.get("samplers") or []
    targets = {
        (channel["target"]["node"], channel["target"]["path"]): channel["sampler"]
        for channel in animation.get("channels") or []
        # morph weights and extensions' targets move no node
        if channel["target"].get("node") is not None and channel["target"].get("path") in _PATHS
    }
    if not targets:
        raise FormatError(path, "holds no animation of its nodes")
    inputs = {samplers[sampler]["input"] for sampler in targets.values()}
    key_times = {index: _key_times(path, document, buffers, index) for index in inputs}
    start = min(times[0] for times in key_times.values())
    end = max(times[-1] for times in key_times.values())
    fps = key_grid_rate(list(key_times.values()))
    num_frames = int(round((end - start) * fps)) + 1
    frame_times = start + np.arange(num_frames) / fps

    def channel(sampler_index: int) -> _Channel:
        """Only the samplers of the nodes the SMPL joints need are decoded."""
        sampler = samplers[sampler_index]
        times = key_times[sampler["input"]]
        values = _accessor(path, document, buffers, sampler["output"])
        interpolation = sampler.get("interpolation", "LINEAR")
        if interpolation == "CUBICSPLINE":
            values = values.reshape(-1, 3, values.shape[-1])
        if len(values) != len(times):
            raise FormatError(path, f"animation sampler {sampler_index} has {len(times)} key times but {len(values)} values")
        if not np.isfinite(values).all():
            raise FormatError(path, f"animation sampler {sampler_index} holds NaN or infinite values")
        return Channel(times, values, interpolation)

    def track(node: int, part: str) -> np.ndarray:
        """(T, C) samples of an animated property, or (1, C) the node's rest value."""
        if (node, part) in targets:
            return sample_channel(channel(targets[(node, part)]), frame_times, is_rotation=part == "rotation")
        return np.asarray(nodes[node].get(part, _REST[part]), dtype=np.float64)[None]

    def rest_matrix(node: int) -> np.ndarray | None:
        """A node placed by a matrix (which glTF forbids animating), as (4, 4) with column vectors."""
        if "matrix" in nodes[node] and not any((node, part) in targets for part in _PATHS):
            return np.asarray(nodes[node]["matrix"], dtype=np.float64).reshape(4, 4).T
        return None

    def translation(node: int) -> np.ndarray:
        matrix = rest_matrix(node)
        return track(node, "translation") if matrix is None else matrix[None, :3, 3]

    def linear(node: int) -> np.ndarray:
        matrix = rest_matrix(node)
        if matrix is not None:
            return matrix[None, :3, :3]
        return linear_part(np.roll(track(node, "rotation"), 1, axis=-1), track(node, "scale"))

    return SceneAnimation(
        path=path,
        names=tuple(str(node.get("name") or f"node{i}") for i, node in enumerate(nodes)),
        parents=tuple(parents),
        joints=tuple(skin["joints"]),
        fps=fps,
        num_frames=num_frames,
        translation=translation,
        linear=linear,
    )


def _key_times(path: Path, document: dict, buffers: dict[int, bytes], index: int) -> np.ndarray:
    times = _accessor(path, document, buffers, index)[:, 0]
    if len(times) == 0 or not np.isfinite(times).all() or np.any(np.diff(times) < 0):
        raise FormatError(path, f"the key times of accessor {index} are empty, not finite or go back in time")
    return times


def _accessor(path: Path, document: dict, buffers: dict[int, bytes], index: int) -> np.ndarray:
    """Accessor `index` as a (count, width) float64 array; normalised integers become floats in [-1, 1]
    or [0, 1]."""
    accessor = document["accessors"][index]
    dtype = np.dtype(_COMPONENTS[accessor["componentType"]]).newbyteorder("<")
    width = _WIDTHS[accessor["type"]]
    count = int(accessor["count"])
    if "sparse" in accessor:
        raise FormatError(path, f"accessor {index} is sparse, which this reader does not support")
    if accessor.get("bufferView") is None:
        return np.zeros((count, width))
    view = document["bufferViews"][accessor["bufferView"]]
    data = _buffer(path, document, buffers, view["buffer"])
    stride = view.get("byteStride") or dtype.itemsize * width
    offset = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    end = offset + stride * (count - 1) + dtype.itemsize * width if count else offset
    if end > min(len(data), view.get("byteOffset", 0) + view["byteLength"]):
        raise FormatError(path, f"accessor {index} reads past the end of its buffer: the file is truncated or corrupt")
    rows = np.ndarray((count, width), dtype=dtype, buffer=data, offset=offset, strides=(stride, dtype.itemsize))
    if accessor.get("normalized") and np.issubdtype(dtype, np.integer):
        return np.maximum(rows / np.iinfo(dtype).max, -1.0)
    return np.array(rows, dtype=np.float64)


def _buffer(path: Path, document: dict, buffers: dict[int, bytes], index: int) -> bytes:
    if index not in buffers:
        uri = document["buffers"][index].get("uri")
        if uri is None:
            data = document[_GLB_BLOB]
        elif uri.startswith("data:"):
            data = _data_uri(path, uri)
        else:
            data = _external_buffer(path, uri)
        if data is None:
            raise FormatError(path, f"buffer {index} has no data (a .glb without its binary chunk?)")
        buffers[index] = data
    return buffers[index]


def _data_uri(path: Path, uri: str) -> bytes:
    """The bytes of a base64 data URI (data:application/octet-stream;base64,...)."""
    header, _, payload = uri.partition(",")
    if not header.endswith(";base64"):
        raise FormatError(path, "a buffer's data URI is not base64")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(path, "a buffer's data URI is not valid base64") from None


def _external_buffer(path: Path, uri: str) -> bytes:
    from urllib.parse import unquote

    target = path.parent / unquote(uri)
    try:
        return target.read_bytes()
    except OSError as error:
        raise FormatError(path, f"cannot read its buffer file {uri}: {error.strerror or error}") from None
