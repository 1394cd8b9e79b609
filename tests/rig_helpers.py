"""Copies of real BVH files with other joint names, to test mapping by name and by shape."""

from __future__ import annotations

import re
from pathlib import Path

_JOINT_LINE = re.compile(r"^([ \t]*(?:JOINT|ROOT)[ \t]+)(.+?)[ \t\r]*$", re.MULTILINE)


def rename_joints(source: Path, target: Path, renames: dict[str, str]) -> Path:
    """A copy of a real BVH whose joints carry other names (the motion is untouched)."""
    text = _JOINT_LINE.sub(lambda line: line.group(1) + renames.get(line.group(2), line.group(2)), source.read_text())
    target.write_text(text)
    return target


def hide_joint_names(source: Path, target: Path) -> Path:
    """A copy of a real BVH whose joints are named j0, j1, ... in file order."""
    names = _JOINT_LINE.findall(source.read_text())
    return rename_joints(source, target, {name: f"j{i}" for i, (_, name) in enumerate(names)})
