"""The bad-input corpus's AMC/ASF, DeepMimic, FBX and glTF cases, made at test time from real files
(an HDM05 take and its skeleton, a DeepMimic motion, a CMU FBX, a Bandai-Namco BVH turned into FBX
and glTF): truncated, binary junk, wrong shapes, NaNs, with one good file of each beside them. Each
case is (file name, bytes, the fragment of the reason it must give, '' for a good file); the AMC
cases come with the ASF files to write beside them, some of them bad."""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Callable
from pathlib import Path

from fbx_files import write_ascii_fbx
from gltf_files import write_gltf

# A case: the file's name in the corpus folder, its bytes, and the reason fragment it must give ('': good).
Case = tuple[str, bytes, str]


def _junk(size: int = 3000) -> bytes:
    return bytes((i * 167 + 13) % 256 for i in range(size))  # fixed, so a failure reproduces


def _amc_frames(amc: bytes) -> tuple[bytes, list[bytes]]:
    """An AMC's header (what precedes its first frame) and its frames (each the frame number line
    and its bones' lines)."""
    first = re.search(rb"(?m)^\d+\s*$", amc)
    assert first is not None
    frames = re.split(rb"(?m)^(?=\d+\s*$)", amc[first.start() :])
    return amc[: first.start()], [frame for frame in frames if frame.strip()]


def _edit_bone(amc: bytes, frame: int, bone: bytes, change: Callable[[list[bytes]], list[bytes]]) -> bytes:
    head, frames = _amc_frames(amc)
    lines = frames[frame].split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == [bone])
    lines[at] = b" ".join(change(lines[at].split()))
    frames[frame] = b"\n".join(lines)
    return head + b"".join(frames)


def amc_cases(asf: bytes, amc: bytes) -> tuple[list[Case], dict[str, bytes]]:
    """AMC motions read with a real ASF (`HDM_bd.asf` beside them), and AMCs beside bad ASFs;
    returns the cases and the ASF files to write beside them (name -> bytes)."""
    good_asf = {"HDM_bd.asf": asf}
    head, frames = _amc_frames(amc)
    cases = [
        ("HDM_bd_good.amc", amc, ""),
        ("HDM_bd_empty.amc", b"", "the file is empty"),
        ("HDM_bd_junk.amc", _junk(), "binary data"),
        ("HDM_bd_truncated_mid_frame.amc", amc[: len(amc) // 2 - 7], "truncated"),
        ("HDM_bd_header_only.amc", head, "no frames"),
        ("HDM_bd_nan.amc", _edit_bone(amc, 5, b"lfemur", lambda v: [v[0], b"nan", *v[2:]]), "NaN"),
        ("HDM_bd_text_value.amc", _edit_bone(amc, 5, b"lfemur", lambda v: [v[0], b"abc", *v[2:]]), "not a number"),
        ("HDM_bd_short_bone.amc", _edit_bone(amc, 5, b"lfemur", lambda v: v[:-1]), "numbers, not 3780: a bone line has too few values"),
        ("HDM_bd_long_bone.amc", _edit_bone(amc, 5, b"lfemur", lambda v: [*v, b"1.0"]), "numbers, not 3780: a bone line has too many values"),
        ("HDM_bd_unknown_bone.amc", _edit_bone(amc, 5, b"lfemur", lambda v: [b"tail", *v[1:]]), "other bones"),
        ("HDM_bd_huge.amc", _edit_bone(amc, 5, b"lfemur", lambda v: [v[0], b"1e300", *v[2:]]), "beyond"),
    ]
    bad_asfs = {
        "empty": (b"", "the file is empty"),
        "junk": (_junk(), "binary data"),
        "truncated": (asf[: len(asf) // 3], "not an ASF skeleton, or truncated"),
        "nan_length": (re.sub(rb"length [0-9.]+", b"length nan", asf, count=3), "length must be a positive number"),
        "no_hierarchy": (asf.split(b":hierarchy")[0], "no :bonedata or :hierarchy section"),
    }
    skeletons = dict(good_asf)
    for name, (text, reason) in bad_asfs.items():
        skeletons[f"badasf-{name}.asf"] = text
        cases.append((f"badasf-{name}_take.amc", amc, reason))
    return cases, skeletons


def deepmimic_cases(motion: bytes) -> list[Case]:
    """DeepMimic motions that still look like one at their start (a folder scan reads only those)."""
    data = json.loads(motion)
    frames = data["Frames"]

    def with_frames(rows: object, **extra: object) -> bytes:
        return json.dumps({**data, **extra, "Frames": rows}).encode()

    return [
        ("dm-good.txt", motion, ""),
        ("dm-truncated.json", motion[: len(motion) // 2], "not valid JSON (truncated?)"),
        ("dm-junk_after_start.txt", b'{"Loop": "wrap", "Frames": [' + _junk(), "not valid JSON"),
        ("dm-no_frames.txt", with_frames([]), "no frames"),
        ("dm-frames_not_list.txt", with_frames("many"), 'no "Frames" list'),
        ("dm-short_row.txt", with_frames([*frames[:3], frames[3][:-2], *frames[4:]]), "frame 3 holds 42 values"),
        ("dm-long_row.txt", with_frames([*frames[:3], [*frames[3], 0.5], *frames[4:]]), "frame 3 holds 45 values"),
        ("dm-nan.txt", with_frames([*frames[:3], [frames[3][0], math.nan, *frames[3][2:]], *frames[4:]]), "frame 3 holds a value that is NaN"),
        ("dm-text_value.txt", with_frames([*frames[:3], [frames[3][0], "x", *frames[3][2:]], *frames[4:]]), "not a number"),
        ("dm-zero_quaternion.txt", with_frames([*frames[:3], [*frames[3][:4], 0, 0, 0, 0, *frames[3][8:]], *frames[4:]]), "zero quaternion"),
        ("dm-negative_durations.txt", with_frames([[-1.0, *row[1:]] for row in frames]), "frame durations"),
    ]


def fbx_cases(real_fbx: bytes, bvh: Path, folder: Path) -> list[Case]:
    """A real binary FBX cut short or overwritten, and ASCII FBX files made from a BVH with a NaN,
    no animation or empty keys."""

    def ascii_fbx(name: str, **options: object) -> bytes:
        path = write_ascii_fbx(folder / name, bvh, frames=40, **options)
        data = path.read_bytes()
        path.unlink()
        return data

    good = ascii_fbx("good.fbx")
    return [
        ("fbx-good.fbx", good, ""),
        ("fbx-empty.fbx", b"", "the file is empty"),
        ("fbx-junk.fbx", _junk(), "not an FBX file"),
        ("fbx-magic_then_junk.fbx", real_fbx[:27] + _junk(), "not a readable FBX file"),
        ("fbx-truncated_10.fbx", real_fbx[: len(real_fbx) // 10], "not a readable FBX file"),
        ("fbx-truncated_90.fbx", real_fbx[: len(real_fbx) * 9 // 10], "not a readable FBX file"),
        ("fbx-ascii_truncated.fbx", good[: len(good) // 2], "not a readable FBX file"),
        ("fbx-ascii_nan.fbx", ascii_fbx("nan.fbx", poison=math.nan), "frame 20 holds a value that is NaN"),
        ("fbx-ascii_inf.fbx", ascii_fbx("inf.fbx", poison=math.inf), "frame 20 holds a value that is NaN"),
        ("fbx-not_animated.fbx", ascii_fbx("still.fbx", animated=False), "holds no animation"),
        ("fbx-empty_keys.fbx", ascii_fbx("empty-keys.fbx", empty_keys=True), "its take has no frames"),
    ]


def _glb_with_nan(glb: bytes) -> bytes:
    """A .glb whose binary chunk holds NaN in the middle of its float data."""
    json_length = struct.unpack_from("<I", glb, 12)[0]
    start = 20 + json_length + 8  # header, JSON chunk, BIN chunk header
    data = bytearray(glb)
    middle = start + (len(glb) - start) // 2 // 4 * 4
    data[middle : middle + 64] = struct.pack("<f", math.nan) * 16
    return bytes(data)


def _gltf_json(text: bytes, change: Callable[[dict], None]) -> bytes:
    document = json.loads(text)
    change(document)
    return json.dumps(document).encode()


def gltf_cases(bvh: Path, folder: Path) -> list[Case]:
    """.glb and .gltf files made from a BVH, then cut short, overwritten, or given lying accessors."""
    glb = write_gltf(folder / "made.glb", bvh, frames=40).read_bytes()
    gltf = write_gltf(folder / "made.gltf", bvh, frames=40).read_bytes()
    os.unlink(folder / "made.glb")
    os.unlink(folder / "made.gltf")

    def first_accessor(field: str, value: object) -> Callable[[dict], None]:
        return lambda document: document["accessors"][0].__setitem__(field, value)

    return [
        ("gltf-good.glb", glb, ""),
        ("gltf-good-embedded.gltf", gltf, ""),
        ("gltf-empty.glb", b"", "the file is empty"),
        ("gltf-junk.glb", _junk(), "not a glTF file"),
        ("gltf-magic_then_junk.glb", glb[:12] + _junk(), "the GLB file is truncated"),
        ("gltf-truncated_half.glb", glb[: len(glb) // 2], "the GLB file is truncated"),
        ("gltf-truncated_header.glb", glb[:40], "the GLB file is truncated"),
        ("gltf-nan.glb", _glb_with_nan(glb), "holds NaN or infinite values"),
        ("gltf-json_truncated.gltf", gltf[: len(gltf) // 2], "its JSON does not parse"),
        ("gltf-lying_count.gltf", _gltf_json(gltf, first_accessor("count", 10**7)), "accessor 0 reads past the end of its buffer"),
        ("gltf-wrong_type.gltf", _gltf_json(gltf, first_accessor("type", "MAT4")), "accessor 0 reads past the end of its buffer"),
        ("gltf-no_animations.gltf", _gltf_json(gltf, lambda d: d.pop("animations")), "holds no animation"),
    ]
