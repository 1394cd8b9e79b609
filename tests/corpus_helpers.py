"""Every clip of the shared corpus converted once per test session, in worker processes, and reduced
to the figures the corpus tests check (tests/test_corpus.py)."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from formats import JOINT_INDEX, TmrError, canonicalize_joints, features_from_canonical, load_motion

FEET = [JOINT_INDEX[name] for name in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
# Metres: a foot this close to the floor stands on it; a pelvis faster than this (m/s) is travelling.
ON_FLOOR = 0.08
MOVING = 0.3


@dataclass(frozen=True)
class ClipFigures:
    """What a user relies on in one converted clip; `error` is set (and nothing else) when it failed."""

    error: str | None = None
    source_fps: float = 0.0
    duration: float = 0.0
    has_finite_features: bool = False
    head_height: float = 0.0  # metres above the lowest foot, on the clip's most upright frame, own scale
    lowest_foot: float = 0.0  # metres above the floor (canonical: the lowest point of the clip)
    on_floor: float = 0.0  # share of frames with a foot within ON_FLOOR of the floor
    moving_seconds: float = 0.0  # time the pelvis travels faster than MOVING
    forward_share: float = 0.0  # of that time, the share it travels toward where the body faces


def figures(path: Path) -> ClipFigures:
    """Convert one clip as `tmr` does and measure it."""
    try:
        motion = load_motion(path)
    except TmrError as error:
        return ClipFigures(error=error.reason)
    joints = motion.joints
    canonical = canonicalize_joints(joints)
    feats = features_from_canonical(canonical)
    lowest = canonical[:, FEET, 1].min(axis=1)
    moving, forward = _travel(canonical)
    return ClipFigures(
        source_fps=motion.source_fps,
        duration=motion.duration,
        has_finite_features=bool(feats.shape == (len(joints) - 1, 263) and np.isfinite(feats).all()),
        head_height=float((joints[:, JOINT_INDEX["head"], 1] - joints[:, FEET, 1].min(axis=1)).max()),
        lowest_foot=float(lowest.min()),
        on_floor=float(np.mean(lowest < ON_FLOOR)),
        moving_seconds=moving,
        forward_share=forward,
    )


def _travel(canonical: np.ndarray) -> tuple[float, float]:
    """Seconds the pelvis moves faster than MOVING, and the share of them it moves toward the body's
    front (left hip and shoulder minus right ones, crossed with up)."""
    velocity = np.diff(canonical[:, JOINT_INDEX["pelvis"]], axis=0) * 20.0
    velocity[:, 1] = 0.0
    across = sum(
        canonical[:-1, JOINT_INDEX[f"left_{part}"]] - canonical[:-1, JOINT_INDEX[f"right_{part}"]]
        for part in ("hip", "shoulder")
    )
    front = np.cross(across, [0.0, 1.0, 0.0])
    front /= np.maximum(np.linalg.norm(front, axis=-1, keepdims=True), 1e-9)
    speed = np.linalg.norm(velocity, axis=-1)
    is_moving = speed > MOVING
    if not is_moving.any():
        return 0.0, 0.0
    ahead = (velocity * front).sum(-1) > 0.5 * speed
    return float(is_moving.sum() / 20.0), float(ahead[is_moving].mean())


@lru_cache(maxsize=1)
def corpus_figures(data: Path, paths: tuple[str, ...]) -> dict[str, ClipFigures]:
    """`figures` of every clip, computed once per session on every core (spawned workers: the test
    process may hold torch's threads, which a fork would copy mid-flight)."""
    workers = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(figures, [data / path for path in paths], chunksize=16)
        return dict(zip(paths, results))


def label_rows(data: Path) -> dict[str, dict[str, str]]:
    """Every source folder's labels.tsv row (frames, fps, seconds), keyed by path under `data`."""
    rows = {}
    for table in sorted(data.glob("*/labels.tsv")):
        with open(table, newline="") as file:
            rows.update({f"{table.parent.name}/{row['file']}": row for row in csv.DictReader(file, delimiter="\t")})
    return rows


def deepmimic_seconds(path: Path) -> float:
    """A DeepMimic motion's duration, read the plain way: the sum of its frames' dt."""
    return float(sum(frame[0] for frame in json.loads(path.read_text())["Frames"]))
