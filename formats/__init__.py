"""Motion files (BVH, ASF/AMC, DeepMimic, FBX, glTF, NPZ, NPY) to canonical SMPL joints and HumanML3D 263-d features.

Pure numpy: this package imports neither `model` nor `tmrcli`, nor torch. Its API is the `__all__` of the
modules below, re-exported as they declare it: the errors, the joint table, the features, reading motion
files, finding them, cutting segments and writing BVH.
"""

from formats import bvh_write, discovery, errors, features, motion, segment, skeleton
from formats.bvh_write import *  # noqa: F403
from formats.discovery import *  # noqa: F403
from formats.errors import *  # noqa: F403
from formats.features import *  # noqa: F403
from formats.motion import *  # noqa: F403
from formats.segment import *  # noqa: F403
from formats.skeleton import *  # noqa: F403

# `+=` of each module's list: the form type checkers and IDEs read, so they see the names as exported.
__all__: list[str] = []
__all__ += errors.__all__
__all__ += skeleton.__all__
__all__ += features.__all__
__all__ += motion.__all__
__all__ += discovery.__all__
__all__ += segment.__all__
__all__ += bvh_write.__all__
