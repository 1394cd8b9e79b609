"""AMASS motions (SMPL-family poses) to joint positions, with a body model the user provides.

AMASS stores axis-angle `poses` and a root translation `trans`, not joints. The joints come from the
body model: rest joints regressed from the shaped template (J_regressor @ (v_template + shapedirs @
betas)), then forward kinematics of the poses. No skinning is needed for the 22 body joints. The body
model is licensed separately, so `tmr` never ships one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from formats.checks import load_numpy_file
from formats.errors import FormatError
from formats.kinematics import axis_angle_to_matrix, forward_kinematics
from formats.skeleton import NUM_JOINTS

__all__ = ["AMASS_KEYS", "BodyModel", "is_amass", "find_body_model", "read_body_model", "amass_joints"]

AMASS_KEYS = ("poses", "trans")
_GENDERS = ("male", "female", "neutral")
_MODEL_KEYS = ("J_regressor", "v_template", "shapedirs", "kintree_table")
# Where SMPL-family releases put a model, by gender: the AMASS/SMPL-H layout first, then flat files.
_MODEL_FILES = ("{gender}/model.npz", "SMPLH_{GENDER}.npz", "SMPLX_{GENDER}.npz", "SMPL_{GENDER}.npz")


@dataclass(frozen=True)
class BodyModel:
    """The parts of a SMPL-family body model that place the 22 body joints."""

    path: Path
    parents: tuple[int, ...]  # (22,), -1 for the pelvis
    template_joints: np.ndarray  # (22, 3) rest joints of the mean shape
    shape_joints: np.ndarray  # (22, 3, B) how each shape coefficient moves the rest joints

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """Rest joint positions (22, 3) for shape coefficients `betas` (any length; extra ones ignored)."""
        count = min(len(betas), self.shape_joints.shape[-1])
        return self.template_joints + self.shape_joints[..., :count] @ betas[:count]


def is_amass(keys: Mapping[str, object] | set[str]) -> bool:
    """Whether an npz's keys are those of an AMASS motion."""
    return all(key in keys for key in AMASS_KEYS)


def find_body_model(location: Path, gender: str) -> Path:
    """The model file in `location` (a folder, or the .npz itself) for `gender`, else the neutral one."""
    location = Path(location)
    if location.is_file():
        return location
    genders = dict.fromkeys([gender, "neutral"])
    tried = [pattern.format(gender=g, GENDER=g.upper()) for g in genders for pattern in _MODEL_FILES]
    for name in tried:
        if (location / name).is_file():
            return location / name
    raise FormatError(location, f"no SMPL-family body model here; looked for {', '.join(tried)}")


@lru_cache(maxsize=4)
def read_body_model(path: Path) -> BodyModel:
    """Read a body model .npz (J_regressor, v_template, shapedirs, kintree_table), plain arrays only."""
    archive = load_numpy_file(path)
    missing = [key for key in _MODEL_KEYS if not isinstance(archive, dict) or key not in archive]
    if missing:
        raise FormatError(path, f"not a SMPL-family body model .npz: it lacks {', '.join(missing)}")
    regressor, template, shapedirs, kintree = (np.asarray(archive[key]) for key in _MODEL_KEYS)
    if regressor.ndim != 2 or regressor.shape[0] < NUM_JOINTS or template.shape != (regressor.shape[1], 3):
        raise FormatError(path, "the body model's J_regressor and v_template shapes do not fit together")
    if shapedirs.shape[:2] != template.shape or kintree.ndim != 2 or kintree.shape[1] < NUM_JOINTS:
        raise FormatError(path, "the body model's shapedirs or kintree_table has an unexpected shape")
    body = regressor[:NUM_JOINTS].astype(np.float64)
    parents = tuple(-1 if j == 0 else int(kintree[0, j]) for j in range(NUM_JOINTS))
    if any(not -1 <= parent < j for j, parent in enumerate(parents)):
        raise FormatError(path, "the body model's kintree_table does not describe the SMPL body joints")
    return BodyModel(
        path=path,
        parents=parents,
        template_joints=body @ template,
        shape_joints=np.einsum("jv,vcb->jcb", body, shapedirs.astype(np.float64)),
    )


def amass_joints(path: Path, arrays: Mapping[str, np.ndarray], body_model: Path | None) -> np.ndarray:
    """Joint positions (T, 22, 3) of an AMASS motion, in AMASS coordinates (metres, Z up).

    Raises FormatError when no body model was given: AMASS files hold poses, not joints.
    """
    if body_model is None:
        raise FormatError(
            path,
            "this is an AMASS file (SMPL poses, no joint positions): converting it needs a SMPL-family "
            "body model; pass --body-model DIR (a folder holding e.g. neutral/model.npz or SMPLH_NEUTRAL.npz)",
        )
    poses = np.asarray(arrays["poses"], dtype=np.float64)
    trans = np.asarray(arrays["trans"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] < 3 * NUM_JOINTS or trans.shape != (poses.shape[0], 3):
        raise FormatError(path, f"AMASS poses {poses.shape} and trans {trans.shape} do not fit (T, >=66) and (T, 3)")
    model = read_body_model(find_body_model(body_model, _gender(arrays)))
    betas = np.asarray(arrays["betas"], dtype=np.float64).ravel() if "betas" in arrays else np.zeros(0)
    rest = model.rest_joints(betas)
    offsets = rest - rest[[max(parent, 0) for parent in model.parents]]
    offsets[0] = rest[0]
    translations = np.broadcast_to(offsets, (poses.shape[0], NUM_JOINTS, 3)).copy()
    translations[:, 0] += trans
    rotations = axis_angle_to_matrix(poses[:, : 3 * NUM_JOINTS].reshape(-1, NUM_JOINTS, 3))
    return forward_kinematics(model.parents, rotations, translations)


def _gender(arrays: Mapping[str, np.ndarray]) -> str:
    if "gender" not in arrays:
        return "neutral"
    value = np.asarray(arrays["gender"]).ravel()
    text = value[0] if value.size else "neutral"
    text = (text.decode(errors="replace") if isinstance(text, bytes) else str(text)).strip().lower()
    return text if text in _GENDERS else "neutral"
