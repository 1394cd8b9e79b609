"""Stick figures of a `Scene` drawn with matplotlib: an animation (GIF, or MP4 through ffmpeg) and a
PNG contact sheet of key frames.

matplotlib is imported inside the functions (STYLE.md: nothing heavy at import time), and figures are
drawn on an Agg canvas of their own, never through pyplot's global state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from formats import JOINT_INDEX
from formats.atomic import atomic_path, write_atomic
from formats.errors import OutputError
from tmrcli.views.scene import BONES, GRID_COLOUR, SIDE_COLOURS, TRAJECTORY_COLOUR, Scene

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.text import Text

__all__ = ["write_animation", "write_contact_sheet"]
_DPI = 100
_ANIMATION_INCHES = 4.0  # 400 x 400 pixels
_PANEL_INCHES = 2.4
_SHEET_COLUMNS = 4
_BONE_WIDTH = 3.0
_HEAD_SIZE = 9.0
_HEAD = JOINT_INDEX["head"]
_BONE_STARTS = [parent for parent, _, _ in BONES]
_BONE_ENDS = [child for _, child, _ in BONES]


@dataclass(frozen=True)
class _Panel:
    """The artists of one drawing of the figure that change from frame to frame."""

    bones: LineCollection
    head: Line2D
    clock: Text


def write_animation(scene: Scene, path: Path) -> None:
    """Write the scene as an animation at its own frame rate, one image per frame: a looping GIF, or
    an MP4 when `path` ends in .mp4 (needs ffmpeg; OutputError when it is missing)."""
    from matplotlib.animation import FFMpegWriter, PillowWriter

    if path.suffix.lower() == ".mp4":
        if not FFMpegWriter.isAvailable():
            raise OutputError(path, "writing .mp4 needs ffmpeg, which is not installed", hint="install ffmpeg, or write a .gif")
        writer = FFMpegWriter(fps=scene.fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
    else:
        writer = PillowWriter(fps=scene.fps)
    figure = _figure(_ANIMATION_INCHES, _ANIMATION_INCHES)
    panel = _draw_panel(figure.add_axes((0.0, 0.0, 1.0, 1.0)), scene)
    with atomic_path(path) as temporary, writer.saving(figure, str(temporary), dpi=_DPI):
        for frame in range(scene.num_frames):
            _show_frame(panel, scene, frame)
            writer.grab_frame()


def write_contact_sheet(scene: Scene, path: Path, count: int = 8) -> None:
    """Write a PNG of `count` key frames, evenly spaced from the first to the last, in rows of four."""
    frames = np.unique(np.linspace(0, scene.num_frames - 1, min(count, scene.num_frames)).round().astype(int))
    rows = -(-len(frames) // _SHEET_COLUMNS)
    columns = min(len(frames), _SHEET_COLUMNS)
    figure = _figure(columns * _PANEL_INCHES, rows * _PANEL_INCHES)
    for i, frame in enumerate(frames):
        row, column = divmod(i, _SHEET_COLUMNS)
        box = (column / columns, 1.0 - (row + 1) / rows, 1.0 / columns, 1.0 / rows)
        _show_frame(_draw_panel(figure.add_axes(box), scene), scene, int(frame))
    write_atomic(path, lambda file: figure.savefig(file, format="png", dpi=_DPI))


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(figure)
    return figure


def _draw_panel(axes: Axes, scene: Scene) -> _Panel:
    """Draw what stays (floor grid, root trajectory) and create the artists that move."""
    from matplotlib.collections import LineCollection

    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(1.0, 0.0)  # view y points down
    axes.set_aspect("equal")
    axes.axis("off")
    axes.add_collection(LineCollection(scene.grid, colors=GRID_COLOUR, linewidths=0.8))
    axes.plot(*scene.trajectory.T, color=TRAJECTORY_COLOUR, linewidth=1.2, linestyle=(0, (2, 2)))
    colours = [SIDE_COLOURS[side] for _, _, side in BONES]
    bones = axes.add_collection(LineCollection([], colors=colours, linewidths=_BONE_WIDTH, capstyle="round"))
    (head,) = axes.plot([], [], marker="o", markersize=_HEAD_SIZE, color=SIDE_COLOURS["spine"], linestyle="")
    clock = axes.text(0.03, 0.97, "", transform=axes.transAxes, va="top", ha="left", fontsize=9, family="monospace")
    return _Panel(bones, head, clock)


def _show_frame(panel: _Panel, scene: Scene, frame: int) -> None:
    points = scene.joints[frame]
    panel.bones.set_segments(np.stack([points[_BONE_STARTS], points[_BONE_ENDS]], axis=1))
    panel.head.set_data(points[_HEAD, :1], points[_HEAD, 1:])
    panel.clock.set_text(f"{scene.time_of(frame):6.2f} s")
