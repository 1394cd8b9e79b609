"""Motion files (BVH, ASF/AMC, DeepMimic, FBX, glTF, NPZ, NPY) to canonical SMPL joints and HumanML3D 263-d features.

Pure numpy: this package imports neither `model` nor `tmrcli`, nor torch.
"""

from formats.bvh_write import cut_bvh, smpl_bvh_text
from formats.discovery import MotionScan, SkippedFile, skip_summary
from formats.errors import FormatError, OutputError, SegmentError, SkeletonError, TmrError
from formats.features import (
    FEATURE_DIM,
    FEATURE_FPS,
    canonicalize_joints,
    extract_features,
    features_from_canonical,
    features_to_joints,
    mirror_features,
    mirror_joints,
)
from formats.motion import MOTION_SUFFIXES, Motion, find_motion_files, load_motion, motion_source, read_skeleton_map, scan_motions
from formats.segment import frame_range
from formats.skeleton import CHILDREN, JOINT_INDEX, KINEMATIC_CHAINS, NUM_JOINTS, PARENTS, SMPL_JOINTS

__all__ = [
    "TmrError",
    "FormatError",
    "SkeletonError",
    "SegmentError",
    "OutputError",
    "SMPL_JOINTS",
    "NUM_JOINTS",
    "JOINT_INDEX",
    "KINEMATIC_CHAINS",
    "PARENTS",
    "CHILDREN",
    "FEATURE_DIM",
    "FEATURE_FPS",
    "canonicalize_joints",
    "features_from_canonical",
    "extract_features",
    "features_to_joints",
    "mirror_joints",
    "mirror_features",
    "MOTION_SUFFIXES",
    "Motion",
    "load_motion",
    "read_skeleton_map",
    "find_motion_files",
    "scan_motions",
    "MotionScan",
    "SkippedFile",
    "skip_summary",
    "motion_source",
    "frame_range",
    "smpl_bvh_text",
    "cut_bvh",
]
