"""Motion files (BVH, ASF/AMC, DeepMimic, FBX, glTF, NPZ, NPY) to canonical SMPL joints and HumanML3D 263-d features.

Pure numpy: this package imports neither `model` nor `tmrcli`, nor torch. Its API is the `__all__` of the
modules below, re-exported as they declare it: the errors, the joint table, the features, reading motion
files, finding them, cutting segments and writing BVH. Each name loads its module when first used, so a
command that reads no motion file (a text search) does not pay for the readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from formats.lazy_names import lazy_getattr

# Each public name and the module that defines it (tests/test_architecture.py holds it to their __all__).
_HOMES = {
    "TmrError": "formats.errors", "FormatError": "formats.errors", "SkeletonError": "formats.errors",
    "SegmentError": "formats.errors", "OutputError": "formats.errors",
    "SMPL_JOINTS": "formats.skeleton", "NUM_JOINTS": "formats.skeleton", "JOINT_INDEX": "formats.skeleton",
    "KINEMATIC_CHAINS": "formats.skeleton", "PARENTS": "formats.skeleton", "CHILDREN": "formats.skeleton",
    "MIRROR_PERMUTATION": "formats.skeleton",
    "FEATURE_DIM": "formats.features", "FEATURE_FPS": "formats.features", "FEATURE_GROUPS": "formats.features",
    "canonicalize_joints": "formats.features", "features_from_canonical": "formats.features",
    "extract_features": "formats.features", "features_to_joints": "formats.features",
    "mirror_joints": "formats.features", "mirror_features": "formats.features",
    "MOTION_SUFFIXES": "formats.motion", "Motion": "formats.motion", "load_motion": "formats.motion",
    "read_skeleton_map": "formats.motion", "find_motion_files": "formats.motion", "scan_motions": "formats.motion",
    "motion_source": "formats.motion",
    "SkippedFile": "formats.discovery", "MotionScan": "formats.discovery", "scan_motion_files": "formats.discovery",
    "skip_summary": "formats.discovery", "FEATURES_TWIN": "formats.discovery",
    "frame_range": "formats.segment", "seconds": "formats.segment",
    "CENTIMETRES_PER_METRE": "formats.bvh_write", "BvhCut": "formats.bvh_write",
    "smpl_bvh_text": "formats.bvh_write", "cut_bvh": "formats.bvh_write",
}  # fmt: skip

__all__ = list(_HOMES)

if TYPE_CHECKING:
    from formats.errors import (
        TmrError,
        FormatError,
        SkeletonError,
        SegmentError,
        OutputError,
    )
    from formats.skeleton import (
        SMPL_JOINTS,
        NUM_JOINTS,
        JOINT_INDEX,
        KINEMATIC_CHAINS,
        PARENTS,
        CHILDREN,
        MIRROR_PERMUTATION,
    )
    from formats.features import (
        FEATURE_DIM,
        FEATURE_FPS,
        FEATURE_GROUPS,
        canonicalize_joints,
        features_from_canonical,
        extract_features,
        features_to_joints,
        mirror_joints,
        mirror_features,
    )
    from formats.motion import (
        MOTION_SUFFIXES,
        Motion,
        load_motion,
        read_skeleton_map,
        find_motion_files,
        scan_motions,
        motion_source,
    )
    from formats.discovery import (
        SkippedFile,
        MotionScan,
        scan_motion_files,
        skip_summary,
        FEATURES_TWIN,
    )
    from formats.segment import frame_range, seconds
    from formats.bvh_write import (
        CENTIMETRES_PER_METRE,
        BvhCut,
        smpl_bvh_text,
        cut_bvh,
    )

__getattr__ = lazy_getattr(__name__, _HOMES, globals())
