"""Any motion file (BVH, ASF/AMC, DeepMimic, FBX, glTF/GLB, NPZ, NPY) to the 22 SMPL joints in metres, Y up, at 20 fps.

`load_motion` is the one entry point: it reads the file, maps its skeleton onto the SMPL joints,
normalises units and axes, and resamples to HumanML3D's 20 fps. Canonicalisation (floor, origin,
facing) and features are the next step, in `formats.features`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formats.amc import AMC_FPS, amc_joint_positions, read_amc
from formats.arrays import SourceMotion, read_motion_array
from formats.bvh import joint_positions, map_bvh_skeleton, read_bvh
from formats.deepmimic import DEEPMIMIC_SUFFIXES, deepmimic_joint_positions, read_character, read_deepmimic
from formats.discovery import MotionScan, scan_motion_files
from formats.errors import FormatError
from formats.features import FEATURE_FPS
from formats.fbx import FBX_SUFFIXES, read_fbx
from formats.gltf import GLTF_SUFFIXES, gltf_animation_names, read_gltf
from formats.limits import check_duration, check_fps
from formats.resample import resample
from formats.rigs import map_skeleton, read_skeleton_map
from formats.scene_nodes import scene_motion
from formats.segment import seconds
from formats.skeleton import NUM_JOINTS
from formats.units import Placement, detect_placement

__all__ = ["MOTION_SUFFIXES", "Motion", "load_motion", "read_skeleton_map", "find_motion_files", "scan_motions", "motion_source"]

MOTION_SUFFIXES = (".bvh", ".amc", *FBX_SUFFIXES, *GLTF_SUFFIXES, ".npz", ".npy", *DEEPMIMIC_SUFFIXES)
# DeepMimic states its units and axes: metres, Y up, right-handed.
_DEEPMIMIC_PLACEMENT = Placement(unit="m", up="+y", is_mirrored=False)
# Farther than this from the origin (metres), coordinates are garbage, not a person moving.
_MAX_DISTANCE = 1e4
# FILE#NAME is the animation NAME of a file that holds several (glTF): each is a motion of its own.
_ANIMATION_SEPARATOR = "#"
# Two frames make the shortest motion that has a velocity, hence one row of features.
_MIN_FRAMES = 2
# A first frame whose largest joint move to the second is over this (metres), and this many times the
# median over the next 8 frames, is a calibration pose (see _without_calibration_pose).
_CALIBRATION_JUMP = 0.2
_CALIBRATION_RATIO = 10.0


@dataclass(frozen=True)
class Motion:
    """One motion file, read. Exactly one of `joints` and `feats` is set.

    joints: (T, 22, 3) float32, metres, Y up, 20 fps, in the file's own placement (not canonicalised).
    feats: (T, 263) float32 when the file already held HumanML3D features.
    source_frames: the file's own frame count, at `source_fps` (None: not known, taken as T at 20 fps).
    """

    path: Path
    source_fps: float
    joints: np.ndarray | None
    feats: np.ndarray | None
    source_frames: int | None = None

    @property
    def num_frames(self) -> int:
        """Frames at 20 fps (rows of `feats` for a feature file)."""
        return (self.joints if self.joints is not None else self.feats).shape[0]  # type: ignore[union-attr]

    @property
    def duration(self) -> float:
        """Seconds, measured on the file's own frames (`formats.segment.seconds`)."""
        if self.source_frames is None:
            return seconds(self.num_frames, FEATURE_FPS)
        return seconds(self.source_frames, self.source_fps)


def load_motion(
    path: Path,
    *,
    skeleton_map: Mapping[str, str] | None = None,
    fps: float | None = None,
    body_model: Path | None = None,
    asf: Path | None = None,
    character: Path | None = None,
    max_duration: float | None = None,
) -> Motion:
    """Read a motion file into SMPL joints (metres, Y up, 20 fps), or its HumanML3D features as they are.

    skeleton_map: SMPL joint name -> joint name in the file, for a rig no built-in map knows (BVH, AMC, FBX, glTF).
    fps: the frame rate of a file that states none: 20 fps for a bare .npy, 120 for an AMC.
    body_model: a SMPL-family body model folder (or .npz), needed for AMASS pose files.
    asf: the ASF skeleton of an AMC file, when none beside it is found (`formats.amc.find_asf`).
    character: a DeepMimic character file, for DeepMimic motions of another character than humanoid3d.
    max_duration: the longest motion read, in seconds (`formats.limits.MAX_DURATION` when None).
    Raises FormatError or SkeletonError, naming the file and the reason.
    """
    path = Path(path)
    file, animation = motion_source(path)
    suffix = file.suffix.lower()
    if fps is not None:
        check_fps(path, fps, "--fps")
    if suffix == ".bvh":
        source = _read_bvh_motion(path, skeleton_map, max_duration)
    elif suffix == ".amc":
        source = _read_amc_motion(path, skeleton_map, asf, fps)
    elif suffix in DEEPMIMIC_SUFFIXES:
        source = _read_deepmimic_motion(path, skeleton_map, character)
    elif suffix in FBX_SUFFIXES:
        source = scene_motion(read_fbx(path), skeleton_map)
    elif suffix in GLTF_SUFFIXES:
        source = scene_motion(read_gltf(file, animation), skeleton_map)
    elif suffix in (".npy", ".npz"):
        source = read_motion_array(path, fps=fps, body_model=body_model)
    else:
        raise FormatError(path, f"unsupported file type {suffix or '(none)'}; expected {', '.join(MOTION_SUFFIXES)}")
    frames = (source.joints if source.joints is not None else source.feats).shape[0]  # type: ignore[union-attr]
    check_duration(path, frames, check_fps(path, source.fps), max_duration)
    if source.feats is not None:
        return Motion(path, source.fps, None, source.feats.astype(np.float32), frames)
    return Motion(path, source.fps, _normalise(path, source), None, frames)


def find_motion_files(paths: Iterable[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """Motion files among `paths`: files as given, folders searched recursively; sorted, no duplicates.

    Inside folders, hidden files and folders (names starting with '.') are skipped, as are files
    that are not motions (`scan_motion_files`, which also says what it skipped).
    """
    return scan_motions(paths, exclude).files


def scan_motions(paths: Iterable[Path], exclude: Sequence[str] = ()) -> MotionScan:
    """The motion files `load_motion` reads among `paths` (as `find_motion_files`), and the files
    passed over, each with its kind (`formats.discovery`). A glTF file with several animations is
    listed once per animation, as FILE#NAME."""
    scan = scan_motion_files(paths, MOTION_SUFFIXES, exclude)
    return MotionScan(sorted(animation for file in scan.files for animation in _animations(file)), scan.skipped)


def motion_source(path: Path | str) -> tuple[Path, str | None]:
    """The file on disk behind a motion path, and the animation it names: 'walks.glb#Run' is the
    animation 'Run' of walks.glb; a path that exists as it is names no animation (None: the first)."""
    path = Path(path)
    file, separator, animation = path.name.rpartition(_ANIMATION_SEPARATOR)
    if not separator or not file or path.exists() or Path(file).suffix.lower() not in GLTF_SUFFIXES:
        return path, None
    return path.with_name(file), animation


def _animations(file: Path) -> list[Path]:
    """FILE#NAME for each animation of a glTF file that holds several; else the file itself (one
    that cannot be read is listed as it is, so that reading it reports why)."""
    if file.suffix.lower() not in GLTF_SUFFIXES or not file.is_file():
        return [file]
    try:
        names = gltf_animation_names(file)
    except FormatError:
        return [file]
    if len(names) < 2:
        return [file]
    return [file.with_name(f"{file.name}{_ANIMATION_SEPARATOR}{name}") for name in names]


def _read_bvh_motion(path: Path, skeleton_map: Mapping[str, str] | None, max_duration: float | None) -> SourceMotion:
    clip = read_bvh(path)
    check_duration(path, clip.num_frames, clip.fps, max_duration)  # before the values are parsed
    mapping = map_bvh_skeleton(clip, skeleton_map)
    joints = mapping.apply(joint_positions(clip, mapping.sources, mapping.tips))
    return SourceMotion(joints, None, clip.fps, None)


def _read_amc_motion(
    path: Path, skeleton_map: Mapping[str, str] | None, asf: Path | None, fps: float | None
) -> SourceMotion:
    clip = read_amc(path, asf)
    mapping = map_skeleton(clip.skeleton.names, path, skeleton_map)
    joints = mapping.apply(amc_joint_positions(clip, mapping.sources))
    return SourceMotion(joints, None, AMC_FPS if fps is None else fps, None)


def _read_deepmimic_motion(path: Path, skeleton_map: Mapping[str, str] | None, character: Path | None) -> SourceMotion:
    clip = read_deepmimic(path, read_character(character))
    mapping = map_skeleton(clip.character.names, path, skeleton_map)
    joints = mapping.apply(deepmimic_joint_positions(clip, mapping.sources))
    return SourceMotion(joints, None, clip.fps, _DEEPMIMIC_PLACEMENT)


def _without_calibration_pose(joints: np.ndarray) -> np.ndarray:
    """The joints (metres) with a first frame that is a calibration pose rather than motion replaced by
    the second.

    cgspeed's "Daz-friendly" CMU release starts its clips with a T-pose at the first frame's root
    height (straight legs there sink the feet up to 22 cm below the floor the motion stands on, and the
    features put that lowest point on the floor); some Reallusion and Rokoko exports start with a
    T-pose metres away; FBX and glTF exporters for game engines key the rest pose on frame 0 and the
    motion from frame 1. Such a frame is a jump no body makes: its largest joint move to the next frame
    is many times those of the frames that follow.
    """
    if len(joints) < _MIN_FRAMES + 2:
        return joints
    moves = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max(axis=1)
    if moves[0] > _CALIBRATION_JUMP and moves[0] > _CALIBRATION_RATIO * np.median(moves[1:9]):
        return np.concatenate([joints[1:2], joints[1:]])  # the next pose in its place keeps the duration
    return joints


def _normalise(path: Path, source: SourceMotion) -> np.ndarray:
    """Metres, Y up, 20 fps, float32; rejects motions too short or too degenerate to describe."""
    joints = source.joints
    assert joints is not None and joints.shape[1:] == (NUM_JOINTS, 3)
    placement = source.placement or detect_placement(joints)
    joints = resample(_without_calibration_pose(placement.apply(joints)), source.fps, FEATURE_FPS)
    if joints.shape[0] < _MIN_FRAMES:
        raise FormatError(path, f"too short: {joints.shape[0]} frame at 20 fps; at least {_MIN_FRAMES} are needed")
    if np.ptp(joints[0], axis=0).max() < 1e-3:
        raise FormatError(path, "every joint sits at the same point: the skeleton has no size")
    if not np.isfinite(joints).all() or np.abs(joints).max() > _MAX_DISTANCE:
        raise FormatError(path, f"joint positions are infinite or farther than {_MAX_DISTANCE:g} m from the origin")
    return joints.astype(np.float32)
