"""The HIERARCHY block of a BVH file: joints, parents, offsets and where each channel sits in a row.

Parsed line by line, so joint names may hold spaces ('Bip01 Spine') and a truncated or malformed
hierarchy is reported with its line number instead of looping or crashing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from formats.errors import FormatError

__all__ = ["BvhJoint", "ChannelLayout", "BvhSkeleton", "read_skeleton", "parse_hierarchy", "channel_layout"]

_AXES = {"x": 0, "y": 1, "z": 2}
_END_SITE = -2  # marks an open End Site block on the stack: it has an OFFSET but no channels


@dataclass
class BvhJoint:
    """One JOINT or ROOT: its parent's index (-1 for a root), OFFSET, channel names (lower case) and the
    OFFSET of its End Site, if it has one (the tip of its last bone, such as the toes of a rig without
    toe joints)."""

    name: str
    parent: int
    offset: tuple[float, ...] | None = None
    channels: tuple[str, ...] = ()
    end_site: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ChannelLayout:
    """Where each joint's channels sit in a MOTION row (rows list the joints' channels in file order).

    positions[j, a]: column of joint j's position on axis a, or -1 (then its OFFSET is used).
    rotations[j, k], axes[j, k]: column and axis (0=x 1=y 2=z) of joint j's k-th rotation, in the
    order the file lists them, or -1 when the joint has fewer than three.
    """

    positions: np.ndarray  # (J, 3) int
    rotations: np.ndarray  # (J, 3) int
    axes: np.ndarray  # (J, 3) int
    num_channels: int


@dataclass(frozen=True)
class BvhSkeleton:
    """What a HIERARCHY block says: joint names and parents (file order), OFFSETs, End Site OFFSETs
    (NaN for a joint without one) and channel layout.

    Shared between the clips of one rig (see `read_skeleton`), so its arrays are read-only.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3) file units
    end_sites: np.ndarray  # (J, 3) file units, in the joint's own frame; NaN where the joint has none
    layout: ChannelLayout


def read_skeleton(path: Path, header: bytes) -> BvhSkeleton:
    """The skeleton of a BVH header (the bytes before MOTION); raises FormatError naming `path`.

    A library holds many clips of few rigs, so skeletons are cached by their header: the shared corpus
    has 11 distinct headers in 639 files.
    """
    try:
        return _cached_skeleton(header)
    except FormatError as error:
        raise FormatError(path, error.reason) from None


@lru_cache(maxsize=64)
def _cached_skeleton(header: bytes) -> BvhSkeleton:
    joints = parse_hierarchy(None, _decode(header))
    layout = channel_layout(None, joints)
    offsets = np.array([joint.offset for joint in joints], dtype=np.float64)
    end_sites = np.array([joint.end_site or (np.nan,) * 3 for joint in joints], dtype=np.float64)
    for array in (offsets, end_sites, layout.positions, layout.rotations, layout.axes):
        array.flags.writeable = False
    return BvhSkeleton(
        names=tuple(joint.name for joint in joints),
        parents=tuple(joint.parent for joint in joints),
        offsets=offsets,
        end_sites=end_sites,
        layout=layout,
    )


def _decode(header: bytes) -> str:
    try:
        return header.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older exporters write joint names in a local 8-bit code page; the structure is ASCII.
        return header.decode("latin-1")


def parse_hierarchy(path: Path | None, text: str) -> list[BvhJoint]:
    """Joints of the HIERARCHY block, in file order (parents first); an End Site is kept as its joint's
    `end_site`, not as a joint."""
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines or lines[0][1].split()[0] != "HIERARCHY":
        raise FormatError(path, "not a BVH file: it does not start with HIERARCHY")
    parser = _Parser(path)
    for number, line in lines[1:]:
        parser.feed(number, line)
    return parser.finish()


def channel_layout(path: Path | None, joints: list[BvhJoint]) -> ChannelLayout:
    """The MOTION column of every channel of `joints`."""
    positions = np.full((len(joints), 3), -1, dtype=np.intp)
    rotations = np.full((len(joints), 3), -1, dtype=np.intp)
    axes = np.zeros((len(joints), 3), dtype=np.intp)
    column = 0
    for j, joint in enumerate(joints):
        count = 0
        for channel in joint.channels:
            axis = _AXES[channel[0]]
            if channel.endswith("position"):
                positions[j, axis] = column
            else:
                rotations[j, count], axes[j, count] = column, axis
                count += 1
            column += 1
    if column == 0:
        raise FormatError(path, "the hierarchy declares no channels")
    return ChannelLayout(positions, rotations, axes, column)


@dataclass
class _Parser:
    """A small state machine over the hierarchy's lines: a stack of open blocks and the joint (or End
    Site) announced on the previous line, waiting for its '{'."""

    path: Path | None
    joints: list[BvhJoint] = field(default_factory=list)
    stack: list[int] = field(default_factory=list)  # open blocks: joint index or _END_SITE
    pending: BvhJoint | int | None = None
    handlers: dict[str, Callable[[int, str, str], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.handlers = {
            "ROOT": self._joint,
            "JOINT": self._joint,
            "END": self._end_site,
            "{": self._open,
            "}": self._close,
            "OFFSET": self._offset,
            "CHANNELS": self._channels,
        }

    def feed(self, number: int, line: str) -> None:
        """Take one non-blank hierarchy line (its number is for error messages)."""
        keyword, _, rest = line.replace("\t", " ").partition(" ")
        handler = self.handlers.get(keyword.upper())
        if handler is None:
            raise self._error(number, f"unexpected {line[:40]!r}")
        handler(number, keyword.upper(), rest.strip())

    def finish(self) -> list[BvhJoint]:
        """The joints, once every line is in; raises FormatError if the hierarchy is incomplete."""
        if self.stack or self.pending is not None:
            raise FormatError(self.path, "the hierarchy ends inside a joint: the file is truncated or malformed")
        if not self.joints:
            raise FormatError(self.path, "the hierarchy has no joints")
        for joint in self.joints:
            if joint.offset is None:
                raise FormatError(self.path, f"joint {joint.name} has no OFFSET")
        return self.joints

    def _error(self, number: int, reason: str) -> FormatError:
        return FormatError(self.path, f"hierarchy line {number}: {reason}")

    def _current_joint(self, number: int, keyword: str) -> BvhJoint:
        if not self.stack or self.stack[-1] == _END_SITE:
            raise self._error(number, f"{keyword} outside a joint")
        return self.joints[self.stack[-1]]

    def _joint(self, number: int, keyword: str, name: str) -> None:
        if not name:
            raise self._error(number, f"{keyword} without a name")
        inside_joint = bool(self.stack) and self.stack[-1] != _END_SITE
        is_placed = inside_joint if keyword == "JOINT" else not self.stack
        if not is_placed or self.pending is not None:
            raise self._error(number, f"{keyword} {name} is out of place")
        if any(joint.name == name for joint in self.joints):
            raise self._error(number, f"a second joint named {name!r}: joint names must be unique")
        self.pending = BvhJoint(name=name, parent=self.stack[-1] if self.stack else -1)

    def _end_site(self, number: int, keyword: str, rest: str) -> None:
        self._current_joint(number, "End Site")
        self.pending = _END_SITE

    def _open(self, number: int, keyword: str, rest: str) -> None:
        if self.pending is None:
            raise self._error(number, "'{' without a joint")
        if isinstance(self.pending, BvhJoint):
            self.joints.append(self.pending)
            self.stack.append(len(self.joints) - 1)
        else:
            self.stack.append(_END_SITE)
        self.pending = None

    def _close(self, number: int, keyword: str, rest: str) -> None:
        if not self.stack:
            raise self._error(number, "unbalanced '}'")
        self.stack.pop()

    def _offset(self, number: int, keyword: str, rest: str) -> None:
        try:
            offset = tuple(float(value) for value in rest.split())
        except ValueError:
            offset = ()
        if len(offset) != 3 or not all(map(math.isfinite, offset)):
            raise self._error(number, f"OFFSET needs three finite numbers, got {rest[:40]!r}")
        if not self.stack:
            raise self._error(number, "OFFSET outside a joint")
        if self.stack[-1] != _END_SITE:
            self.joints[self.stack[-1]].offset = offset
        elif len(self.stack) > 1 and self.stack[-2] != _END_SITE:
            self.joints[self.stack[-2]].end_site = offset

    def _channels(self, number: int, keyword: str, rest: str) -> None:
        joint = self._current_joint(number, keyword)
        fields = rest.split()
        if not fields or not (fields[0].isascii() and fields[0].isdigit()) or int(fields[0]) != len(fields) - 1:
            raise self._error(number, "the CHANNELS count does not match the channel names")
        names = tuple(name.lower() for name in fields[1:])
        for name in names:
            if len(name) != 9 or name[0] not in _AXES or name[1:] not in ("position", "rotation"):
                raise self._error(number, f"unknown channel {name!r}")
        if len(set(names)) != len(names):
            raise self._error(number, "a channel is listed twice")
        joint.channels = names
