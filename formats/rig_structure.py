"""Mapping a humanoid skeleton onto the SMPL joints by its shape, for rigs whose joint names no map knows.

Read off the joint tree and a few poses of the clip, never the names: the pelvis is where two legs branch
(two similar limbs going the same way, ending at the body's far end); the spine runs from there to the
joint where two arms branch off to either side; the neck and head continue above it. Within a limb,
joints at the same spot and twist (roll) joints, which never bend it, are passed over; the last long bone
ends at the ankle or wrist. Left and right come from the pose, relative to the way the toes point (a
right-handed frame), so a rig whose names lie, or that has none, still gets its sides right. Hands,
fingers, face bones and props are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NotHumanoid", "map_by_structure"]

# Fractions of the body's size (the largest extent of the first pose).
_LEG_REACH = 0.25  # a leg reaches at least this far from where it branches
_ARM_REACH = 0.15  # and an arm this far (from the spine joint it branches from, wherever that sits)
_SIDE_OFFSET = 0.03  # a shoulder lies at least this far to its side of the spine
# Fractions of the leg's reach (pelvis to the farthest joint of a leg).
_SAME_SPOT = 0.02  # a joint this close to the previous one of its chain is the same point
_LEG_BONE = 0.25  # thighs and shins are longer than this, feet and toes shorter
_ARM_BONE = 0.15  # upper arms and forearms are longer than this, hand and finger bones shorter
_ROLL_DEGREES = 0.01  # a twist joint bends its chain by less than this in every pose (Berkeley: 1e-6;
# a knee kept straight through a whole boxing clip still bends 0.08 degrees)
_PARALLEL = 0.3  # cosine between the two legs' directions, at least (a wide stance is 60-70 degrees)
_SIMILAR = 0.75  # ratio of the two legs' reaches, at least


class NotHumanoid(ValueError):
    """The skeleton has no humanoid shape; the message names what is missing."""


@dataclass(frozen=True)
class _Tree:
    parents: tuple[int, ...]
    children: tuple[tuple[int, ...], ...]
    subtrees: tuple[frozenset[int], ...]  # each joint and its descendants

    @classmethod
    def of(cls, parents: Sequence[int]) -> _Tree:
        children: list[list[int]] = [[] for _ in parents]
        for joint, parent in enumerate(parents):
            if parent >= 0:
                children[parent].append(joint)
        subtrees: list[set[int]] = [{joint} for joint in range(len(parents))]
        for joint in reversed(range(len(parents))):  # parents precede their children
            if parents[joint] >= 0:
                subtrees[parents[joint]] |= subtrees[joint]
        return cls(tuple(parents), tuple(map(tuple, children)), tuple(map(frozenset, subtrees)))

    def path_up(self, joint: int) -> list[int]:
        """The joint and its ancestors, up to the root."""
        path = [joint]
        while self.parents[path[-1]] >= 0:
            path.append(self.parents[path[-1]])
        return path

    def path(self, start: int, end: int) -> list[int]:
        """Joints from `start` to `end` through the tree, both included."""
        up, down = self.path_up(start), self.path_up(end)
        common = next((joint for joint in up if joint in set(down)), None)
        if common is None:
            raise NotHumanoid("the body is in pieces: its joints hang from more than one root")
        return up[: up.index(common) + 1] + down[: down.index(common)][::-1]


def map_by_structure(parents: Sequence[int], poses: np.ndarray, tips: np.ndarray) -> dict[str, int | None]:
    """The file joint of each SMPL joint (None: to be filled from its neighbours), found by shape.

    parents: each joint's parent (-1 for a root), parents first. poses: (F, J, 3) joint positions in a
    few frames of the clip; the shape is read off the first one in which it is clear (a wide stride
    hides the legs), and all of them tell twist joints. tips: (F, J, 3) the end of each joint's bone
    (a BVH End Site), NaN where there is none. Raises NotHumanoid naming what was missing in the first pose.
    """
    tree = _Tree.of(parents)
    first_reason: NotHumanoid | None = None
    for frame in range(len(poses)):
        try:
            return _map_pose(tree, np.roll(poses, -frame, axis=0), tips[frame])
        except NotHumanoid as error:
            first_reason = first_reason or error
    raise first_reason or NotHumanoid("the clip has no frames")


def _map_pose(tree: _Tree, poses: np.ndarray, tips: np.ndarray) -> dict[str, int | None]:
    """map_by_structure on the shape of the first pose: the first pair of legs that a whole body fits."""
    pose = poses[0]
    size = float(np.ptp(pose, axis=0).max())
    if not size > 0:
        raise NotHumanoid("every joint sits at one point")
    candidates, has_legs = _leg_candidates(tree, pose, size)
    if not candidates:
        if has_legs:
            raise NotHumanoid("legs with no body rising above them (a quadruped?)")
        raise NotHumanoid("no two leg chains branch from one joint")
    first_reason = None
    for pelvis, legs, up in candidates:
        try:
            return _map_body(tree, poses, tips, size, pelvis, legs, up)
        except NotHumanoid as error:
            first_reason = first_reason or error
    raise first_reason  # type: ignore[misc]


def _map_body(
    tree: _Tree, poses: np.ndarray, tips: np.ndarray, size: float, pelvis: int, legs: tuple[int, int], up: np.ndarray
) -> dict[str, int | None]:
    """The SMPL joints of a body whose legs branch from `pelvis`."""
    pose = poses[0]
    leg_reach = max(float(np.linalg.norm(pose[list(tree.subtrees[leg])] - pose[pelvis], axis=1).max()) for leg in legs)
    clean = _Cleaner(poses, same_spot=_SAME_SPOT * leg_reach)
    leg_chains = [_leg_joints(tree, clean, pelvis, leg, tips, _LEG_BONE * leg_reach) for leg in legs]
    chest, arm_chains = _find_arms(tree, clean, size, pelvis, legs, up, _ARM_BONE * leg_reach)
    left = np.cross(up, _forward(pose, tips, leg_chains, up))
    found = {"pelvis": pelvis, **_spine_joints(tree, clean, chest, pelvis, arm_chains, up)}
    for chains, root in ((leg_chains, "hip"), (arm_chains, "shoulder")):
        is_first_left = pose[chains[0][root]] @ left > pose[chains[1][root]] @ left  # type: ignore[index]
        for side, chain in zip(("left", "right") if is_first_left else ("right", "left"), chains):
            found.update({f"{side}_{joint}": index for joint, index in chain.items()})
    return found


def _leg_candidates(
    tree: _Tree, pose: np.ndarray, size: float
) -> tuple[list[tuple[int, tuple[int, int], np.ndarray]], bool]:
    """Joints where two legs may branch, with the legs' first joints and the up direction (legs to
    body), most likely first (longest legs); and whether some pair of legs had a body beside them
    rather than above (a quadruped's).

    Legs: two chains of at least three joints and similar reach, going the same way, whose ends are
    the body's farthest points that way, with the rest of the body on the other side.
    """
    found, has_legs = [], False
    for joint, children in enumerate(tree.children):
        limbs = [(child, _far_point(tree, pose, joint, child)) for child in children]
        limbs = [(child, far) for child, far in limbs if np.linalg.norm(far - pose[joint]) >= _LEG_REACH * size]
        for i, (a, far_a) in enumerate(limbs):
            for b, far_b in limbs[i + 1 :]:
                reach_a, reach_b = np.linalg.norm(far_a - pose[joint]), np.linalg.norm(far_b - pose[joint])
                if min(reach_a, reach_b) / max(reach_a, reach_b) < _SIMILAR:
                    continue
                if _unit(far_a - pose[joint]) @ _unit(far_b - pose[joint]) < _PARALLEL:
                    continue
                if min(len(_limb_chain(tree, pose, joint, limb)) for limb in (a, b)) < 3:
                    continue  # hip, knee and ankle at least
                down = _unit(_unit(far_a - pose[joint]) + _unit(far_b - pose[joint]))
                depth = (pose - pose[joint]) @ down
                is_farthest = min(far_a @ down, far_b @ down) - pose[joint] @ down >= depth.max() - 0.1 * size
                rest = np.setdiff1d(np.arange(len(pose)), list(tree.subtrees[a] | tree.subtrees[b]))
                level = (pose[rest] - pose[joint]) - np.outer(depth[rest], down)
                has_legs = has_legs or bool(is_farthest and np.linalg.norm(level, axis=1).max() >= 0.5 * size)
                if is_farthest and depth[rest].min() < -_LEG_REACH * size:
                    found.append((reach_a + reach_b, joint, (a, b), -down))
    ranked = [(joint, legs, up) for _, joint, legs, up in sorted(found, key=lambda candidate: -candidate[0])]
    return ranked, has_legs


def _find_arms(
    tree: _Tree,
    clean: _Cleaner,
    size: float,
    pelvis: int,
    legs: tuple[int, int],
    up: np.ndarray,
    bone: float,
) -> tuple[int, list[dict[str, int | None]]]:
    """The joint where two arms branch (above the pelvis), and the arms' joints: the two longest limbs
    of the upper body whose shoulders sit on either side of the spine."""
    pose = clean.poses[0]
    lower = tree.subtrees[legs[0]] | tree.subtrees[legs[1]]
    best: tuple[float, int, list[dict[str, int | None]]] | None = None
    for joint, children in enumerate(tree.children):
        rise = (pose[joint] - pose[pelvis]) @ up
        if joint in lower or rise <= 0 or rise < 0.5 * np.linalg.norm(pose[joint] - pose[pelvis]):
            continue  # arms branch from an upper spine that rises above the pelvis
        toward_pelvis = set(tree.path(joint, pelvis))
        arms = []
        for child in children:
            reach = float(np.linalg.norm(_far_point(tree, pose, joint, child) - pose[joint]))
            if child not in toward_pelvis and reach >= _ARM_REACH * size:
                try:
                    arms.append((reach, _arm_joints(tree, clean, joint, child, bone)))
                except NotHumanoid:
                    continue
        for i, (reach_a, arm_a) in enumerate(arms):
            for reach_b, arm_b in arms[i + 1 :]:
                shoulders = pose[[arm_a["shoulder"], arm_b["shoulder"]]] - pose[joint]
                if _are_either_side(shoulders, up, size) and (best is None or reach_a + reach_b > best[0]):
                    best = (reach_a + reach_b, joint, [arm_a, arm_b])
    if best is None:
        raise NotHumanoid("no two arm chains branch from a spine above the legs")
    return best[1], best[2]


def _are_either_side(points: np.ndarray, up: np.ndarray, size: float) -> bool:
    """True when the two points (relative to a spine joint) lie on either side of it, level, each at
    least _SIDE_OFFSET away."""
    across = points[0] - points[1]
    across = _unit(across - (across @ up) * up)
    return bool(points[0] @ across >= _SIDE_OFFSET * size and -points[1] @ across >= _SIDE_OFFSET * size)


@dataclass(frozen=True)
class _Cleaner:
    """Drops the joints of a chain that add no joint to the body: at the spot of the previous joint
    (CMU's LHipJoint), or twist joints on a straight bone (Berkeley's RightArmRoll)."""

    poses: np.ndarray  # (F, J, 3)
    same_spot: float

    def __call__(self, start: int, chain: list[int]) -> list[int]:
        kept = [start]
        for joint in chain:
            if np.linalg.norm(self.poses[0, joint] - self.poses[0, kept[-1]]) >= self.same_spot:
                kept.append(joint)
        index = 1
        while index < len(kept) - 1:
            if self._is_straight(kept[index - 1], kept[index], kept[index + 1]):
                del kept[index]
            else:
                index += 1
        return kept[1:]

    def _is_straight(self, before: int, joint: int, after: int) -> bool:
        incoming = _unit(self.poses[:, joint] - self.poses[:, before])
        outgoing = _unit(self.poses[:, after] - self.poses[:, joint])
        cosine = np.einsum("fc,fc->f", incoming, outgoing)
        return bool(cosine.min() > np.cos(np.radians(_ROLL_DEGREES)))


def _limb_chain(tree: _Tree, pose: np.ndarray, start: int, first: int) -> list[int]:
    """Joints from `first` (a child of `start`) to the end of its longest chain of bones: the tip of a
    foot or of the longest finger, however the limb is bent."""
    members = list(tree.subtrees[first])
    lengths = {joint: float(np.linalg.norm(pose[joint] - pose[tree.parents[joint]])) for joint in members}
    along: dict[int, float] = {start: 0.0}
    for joint in sorted(members):  # parents first
        along[joint] = along[tree.parents[joint]] + lengths[joint]
    return tree.path(first, max(members, key=along.__getitem__))


def _last_long_bone(clean: _Cleaner, start: int, chain: list[int], bone: float) -> tuple[list[int], int]:
    """The chain without its extra joints, and the index of the joint that ends its last bone longer
    than `bone` (an ankle, a wrist)."""
    kept = clean(start, chain)
    points = clean.poses[0, [start, *kept]]
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    long_bones = np.flatnonzero(lengths >= bone)
    if len(long_bones) == 0 or long_bones[-1] < 1:
        raise NotHumanoid("a limb has fewer than two long bones")
    return kept, int(long_bones[-1])


def _leg_joints(
    tree: _Tree, clean: _Cleaner, pelvis: int, leg: int, tips: np.ndarray, bone: float
) -> dict[str, int | None]:
    """hip, knee, ankle and foot (toes; None when the ankle's bone tip stands in for them)."""
    kept, ankle = _last_long_bone(clean, pelvis, _limb_chain(tree, clean.poses[0], pelvis, leg), bone)
    if ankle < 2:
        raise NotHumanoid("a leg has no hip, knee and ankle")
    toe = _toe(clean.poses[0], kept[ankle], kept[ankle + 1 :])
    if toe is None and np.isnan(tips[kept[ankle]]).any():
        raise NotHumanoid("a leg ends at its ankle, with neither toes nor an end site to place them")
    return {"hip": kept[ankle - 2], "knee": kept[ankle - 1], "ankle": kept[ankle], "foot": toe}


def _toe(pose: np.ndarray, ankle: int, foot: list[int]) -> int | None:
    """The first joint of the foot at least half its length from the ankle (the ball of the foot: a
    mid-foot or heel joint right under the ankle is not it), None when the foot has no joint."""
    if not foot:
        return None
    distances = np.linalg.norm(pose[foot] - pose[ankle], axis=1)
    return foot[int(np.argmax(distances >= 0.5 * distances.max()))]


def _arm_joints(tree: _Tree, clean: _Cleaner, chest: int, arm: int, bone: float) -> dict[str, int | None]:
    """collar (None when the arm has none), shoulder, elbow and wrist."""
    kept, wrist = _last_long_bone(clean, chest, _limb_chain(tree, clean.poses[0], chest, arm), bone)
    if wrist < 2:
        raise NotHumanoid("an arm has no shoulder, elbow and wrist")
    return {
        "collar": kept[wrist - 3] if wrist >= 3 else None,
        "shoulder": kept[wrist - 2],
        "elbow": kept[wrist - 1],
        "wrist": kept[wrist],
    }


def _spine_joints(
    tree: _Tree, clean: _Cleaner, chest: int, pelvis: int, arms: list[dict[str, int | None]], up: np.ndarray
) -> dict[str, int | None]:
    """spine1-3, neck and head: the joints between the pelvis and the arms' branch, then the chain
    that rises highest from there."""
    pose = clean.poses[0]
    between = [joint for joint in clean(pelvis, tree.path(pelvis, chest)[1:]) if joint != chest]
    arm_joints = {joint for arm in arms for joint in arm.values() if joint is not None}
    toward_pelvis = set(tree.path(chest, pelvis))
    heads = [
        child
        for child in tree.children[chest]
        if child not in toward_pelvis and not tree.subtrees[child] & arm_joints
    ]
    if not heads:
        raise NotHumanoid("no neck or head above the arms")
    tops = [_far_point(tree, pose, chest, child, along=up) for child in heads]
    top = heads[int(np.argmax([point @ up for point in tops]))]
    members = list(tree.subtrees[top])
    neck_chain = clean(chest, tree.path(top, members[int(np.argmax(pose[members] @ up))]))
    if not neck_chain:
        raise NotHumanoid("no neck or head above the arms")
    return {
        "spine1": between[0] if between else None,
        "spine2": between[len(between) // 2] if len(between) >= 2 else None,
        "spine3": chest,
        "neck": neck_chain[0] if len(neck_chain) >= 2 else None,
        "head": neck_chain[min(1, len(neck_chain) - 1)],
    }


def _forward(pose: np.ndarray, tips: np.ndarray, legs: list[dict[str, int | None]], up: np.ndarray) -> np.ndarray:
    """The way the toes point from the ankles, level (perpendicular to up)."""
    toes = sum(
        (pose[leg["foot"]] if leg["foot"] is not None else tips[leg["ankle"]]) - pose[leg["ankle"]]  # type: ignore[index]
        for leg in legs
    )
    level = toes - (toes @ up) * up
    if np.linalg.norm(level) < 1e-9:
        raise NotHumanoid("the toes point neither forward nor back, so left and right cannot be told")
    return _unit(level)


def _far_point(tree: _Tree, pose: np.ndarray, start: int, first: int, along: np.ndarray | None = None) -> np.ndarray:
    """The point of `first`'s subtree farthest from `start` (or highest along `along`)."""
    members = pose[list(tree.subtrees[first])]
    score = members @ along if along is not None else np.linalg.norm(members - pose[start], axis=1)
    return members[int(np.argmax(score))]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
