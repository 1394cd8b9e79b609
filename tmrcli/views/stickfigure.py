"""Stick figures of a `Scene` drawn with matplotlib: an animation (GIF, or MP4 through ffmpeg) and a
PNG contact sheet of key frames.

A GIF is drawn by blitting (the floor and trajectory once, then only the moving figure per frame,
the clock written by Pillow) in one fixed palette (white, each drawn colour and three of its blends
toward white: 25 colours), so that Pillow stores each frame as the small rectangle that changed.
Segments longer than `FULL_RATE_SECONDS` are drawn at `LONG_SEGMENT_FPS`, and a GIF holds at most
`MAX_GIF_FRAMES` frames (a longer segment gets a lower rate): a 63 s take is then a few seconds of
drawing and 1.5 MB, and memory stays bounded.

matplotlib is imported inside the functions (STYLE.md: nothing heavy at import time), and figures are
drawn on an Agg canvas of their own, never through pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    from PIL.Image import Image as PILImage

__all__ = ["FULL_RATE_SECONDS", "LONG_SEGMENT_FPS", "MAX_GIF_FRAMES", "gif_frame_step",
           "write_animation", "write_contact_sheet"]
FULL_RATE_SECONDS = 10.0  # segments up to this long are drawn at the motion's own rate
LONG_SEGMENT_FPS = 10.0
MAX_GIF_FRAMES = 1000  # 400 x 400 palette frames, ~160 KB each while the GIF is assembled
_BLENDS = (1.0, 0.75, 0.5, 0.25)  # a GIF's colours: each drawn colour at these strengths over white
_DPI = 100
_ANIMATION_INCHES = 4.0  # 400 x 400 pixels
_PANEL_INCHES = 2.4
_SHEET_COLUMNS = 4
_BONE_WIDTH = 3.0
_HEAD_SIZE = 9.0
_CLOCK_CORNER = (0.03, 0.97)  # the clock's top left, in axes coordinates
_CLOCK_POINTS = 9
_HEAD = JOINT_INDEX["head"]
_BONE_STARTS = [parent for parent, _, _ in BONES]
_BONE_ENDS = [child for _, child, _ in BONES]


@dataclass(frozen=True)
class _Panel:
    """The artists of one drawing of the figure that change from frame to frame."""

    bones: LineCollection
    head: Line2D
    clock: Text


def gif_frame_step(scene: Scene, fps: float | None = None) -> int:
    """Every how many scene frames a GIF keeps one: for `fps` when given, else the default rate (the
    scene's own up to FULL_RATE_SECONDS, LONG_SEGMENT_FPS beyond), then fewer when the GIF would
    exceed MAX_GIF_FRAMES."""
    if fps is None:
        fps = scene.fps if scene.num_frames <= FULL_RATE_SECONDS * scene.fps else LONG_SEGMENT_FPS
    step = max(1, round(scene.fps / fps))
    return max(step, -(-scene.num_frames // MAX_GIF_FRAMES))


def write_animation(scene: Scene, path: Path, fps: float | None = None) -> None:
    """Write the scene as a looping GIF (`gif_frame_step` picks its frames and rate), or as an MP4 of
    every frame when `path` ends in .mp4 (needs ffmpeg; OutputError when it is missing)."""
    if path.suffix.lower() == ".mp4":
        _write_mp4(scene, path)
    else:
        _write_gif(scene, path, gif_frame_step(scene, fps))


def _write_gif(scene: Scene, path: Path, step: int) -> None:
    from PIL import Image

    palette = _gif_palette()

    def quantized(image: Image.Image) -> Image.Image:
        return image.quantize(palette=palette, dither=Image.Dither.NONE)

    images = _blitted_frames(scene, range(0, scene.num_frames, step))
    first = next(images)
    milliseconds = round(1000 * step / scene.fps)
    write_atomic(
        path,
        lambda file: quantized(first).save(
            file, format="GIF", save_all=True, append_images=map(quantized, images), duration=milliseconds, loop=0
        ),
    )


def _gif_palette() -> PILImage:
    """The colours a frame holds: white, each drawn colour and its anti-aliased blends toward white."""
    from matplotlib.colors import to_rgb
    from PIL import Image

    inks = [GRID_COLOUR, TRAJECTORY_COLOUR, *SIDE_COLOURS.values(), "black"]
    colours = [(1.0, 1.0, 1.0)] + [
        tuple(1.0 - (1.0 - c) * strength for c in to_rgb(ink)) for ink in inks for strength in _BLENDS
    ]
    palette = Image.new("P", (1, 1))
    palette.putpalette([round(255 * c) for colour in colours for c in colour])
    return palette


def _blitted_frames(scene: Scene, frames: range) -> Iterator[PILImage]:
    """Each frame as an RGB image: the still parts drawn once, the figure drawn over them per frame,
    and the clock written with Pillow in matplotlib's own monospace font (laying text out through
    matplotlib costs more than drawing the rest of the frame)."""
    from matplotlib.font_manager import FontProperties, findfont
    from PIL import Image, ImageDraw, ImageFont

    figure = _figure(_ANIMATION_INCHES, _ANIMATION_INCHES)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    panel = _draw_panel(axes, scene)
    panel.clock.set_visible(False)
    for artist in (panel.bones, panel.head):
        artist.set_animated(True)
    canvas = figure.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)
    size = canvas.get_width_height()
    font = ImageFont.truetype(findfont(FontProperties(family="monospace")), round(_CLOCK_POINTS * _DPI / 72))
    corner = (round(_CLOCK_CORNER[0] * size[0]), round((1.0 - _CLOCK_CORNER[1]) * size[1]))
    for frame in frames:
        canvas.restore_region(background)
        _show_frame(panel, scene, frame)
        axes.draw_artist(panel.bones)
        axes.draw_artist(panel.head)
        image = Image.frombuffer("RGBA", size, canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
        ImageDraw.Draw(image).text(corner, panel.clock.get_text(), fill="black", font=font)
        yield image


def _write_mp4(scene: Scene, path: Path) -> None:
    from matplotlib.animation import FFMpegWriter

    if not FFMpegWriter.isAvailable():
        raise OutputError(path, "writing .mp4 needs ffmpeg, which is not installed", hint="install ffmpeg, or write a .gif")
    writer = FFMpegWriter(fps=scene.fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
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
    clock = axes.text(
        *_CLOCK_CORNER, "", transform=axes.transAxes, va="top", ha="left", fontsize=_CLOCK_POINTS, family="monospace"
    )
    return _Panel(bones, head, clock)


def _show_frame(panel: _Panel, scene: Scene, frame: int) -> None:
    points = scene.joints[frame]
    panel.bones.set_segments(np.stack([points[_BONE_STARTS], points[_BONE_ENDS]], axis=1))
    panel.head.set_data(points[_HEAD, :1], points[_HEAD, 1:])
    panel.clock.set_text(f"{scene.time_of(frame):6.2f} s")
