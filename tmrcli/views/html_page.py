"""The results page: one self-contained HTML file that plays every hit as a stick figure.

The page is `assets/results.html` (its CSS and a small script inline, no network: its Content
Security Policy forbids any request) with the results embedded as JSON: for each hit its rank, score,
file, segment and the projected joints of every frame (`tmrcli.views.scene`, the same drawing as the GIF).
For `localize`, the similarity curve over the whole motion is drawn with the found segments marked
and a figure of the whole motion playing in sync with it.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from formats import JOINT_INDEX, NUM_JOINTS
from formats.atomic import reporting_write_errors, write_atomic
from formats.errors import TmrError
from formats.load_options import LoadOptions
from tmrcli.library.motion_segment import load_segment
from tmrcli.library.results import SearchHit, Segment
from tmrcli.views.console import format_span
from tmrcli.views.scene import BONES, GRID_COLOUR, SIDE_COLOURS, TRAJECTORY_COLOUR, Scene, build_scene

if TYPE_CHECKING:
    from tmrcli.library.localize import Localization

__all__ = [
    "HitView",
    "CurveView",
    "write_results_page",
    "write_search_page",
    "write_localize_page",
    "hit_views",
    "curve_view",
    "drawing_data",
    "figure_data",
    "read_asset",
    "page_with_player_controls",
    "script_json",
]

# View coordinates ([0, 1]) are sent as integers in units of 1 / _SCALE: a tenth of a pixel of a
# 1000-pixel figure, in about half the characters of decimals.
_SCALE = 10000
_TEMPLATE = "results.html"


@dataclass(frozen=True)
class HitView:
    """One result as the page shows it. `scene` is None when the file could not be read; `problem`
    then says why, in place of the figure. `score` is None for a motion shown without a query."""

    rank: int
    path: str
    start: float
    end: float
    score: float | None
    scene: Scene | None
    problem: str | None = None

    @property
    def duration(self) -> float:
        """Seconds between start and end."""
        return self.end - self.start


@dataclass(frozen=True)
class CurveView:
    """The similarity of the query along one whole motion (`localize`): scores in [0, 1] at `times`
    (seconds), the segments found, and the scene of the whole motion."""

    path: str
    times: np.ndarray  # (N,)
    scores: np.ndarray  # (N,)
    segments: Sequence[Segment]
    scene: Scene


_PLACEHOLDER = re.compile(r"__TMR_(TITLE|HEADING|KIND|DATA)__")


def write_results_page(path: Path, query: str | None, hits: Sequence[HitView], curve: CurveView | None = None) -> None:
    """Write the results page to `path`, atomically. `query` heads the page (None: the file names)."""
    heading = query if query is not None else ", ".join(dict.fromkeys(hit.path for hit in hits))
    payload = {
        "drawing": drawing_data(),
        "hits": [_hit_data(hit) for hit in hits],
        "curve": None if curve is None else _curve_data(curve),
    }
    template = (
        page_with_player_controls(_TEMPLATE)
        .replace("__TMR_PLAYER_CSS__", read_asset("player.css"))
        .replace("__TMR_PLAYER_JS__", read_asset("player.js"))
    )
    values = {
        "TITLE": html.escape(f"tmr: {heading}"),
        "HEADING": html.escape(heading),
        "KIND": "query" if query is not None else "motion",
        "DATA": script_json(payload),
    }
    # One pass over the template for the user's text: what is put in is never searched again, so a
    # query or file name that contains a placeholder's name stays text.
    page = _PLACEHOLDER.sub(lambda found: values[found[1]], template)
    write_atomic(path, lambda file: file.write(page.encode("utf-8")))


def write_search_page(path: Path, query: str, hits: Sequence[SearchHit], options: LoadOptions = LoadOptions()) -> None:
    """The page of `tmr search --html`: every hit read from its file and drawn."""
    with reporting_write_errors(path):
        write_results_page(path, query, hit_views(hits, options))


def write_localize_page(path: Path, query: str, motion: Path, localization: Localization, options: LoadOptions = LoadOptions()) -> None:
    """The page of `tmr localize --html`: the similarity curve along `motion` and each segment found,
    as a hit, in the order found (best first)."""
    segments = localization.segments
    hits = [SearchHit(rank, s.score, str(motion), s.start, s.end) for rank, s in enumerate(segments, start=1)]
    times = np.array([point.time for point in localization.curve])
    scores = np.array([point.score for point in localization.curve])
    with reporting_write_errors(path):
        write_results_page(path, query, hit_views(hits, options), curve_view(motion, times, scores, segments, options))


def hit_views(hits: Sequence[SearchHit], options: LoadOptions = LoadOptions()) -> list[HitView]:
    """Read the segment of every search hit; a hit whose file cannot be read keeps its row, with the
    reason in place of the figure, so one moved file does not lose the whole page."""
    views = []
    for hit in hits:
        try:
            scene, problem = build_scene(load_segment(Path(hit.path), hit.start, hit.end, options)), None
        except TmrError as error:
            scene, problem = None, error.reason
        views.append(HitView(hit.rank, hit.path, hit.start, hit.end, hit.score, scene, problem))
    return views


def curve_view(
    path: Path, times: np.ndarray, scores: np.ndarray, segments: Sequence[Segment], options: LoadOptions = LoadOptions()
) -> CurveView:
    """The localize curve of the motion file `path`, with the scene of the whole motion."""
    scene = build_scene(load_segment(Path(path), 0.0, None, options))
    return CurveView(str(path), np.asarray(times, dtype=float), np.asarray(scores, dtype=float), segments, scene)


def page_with_player_controls(name: str) -> str:
    """The page asset `name` with the player's controls (play all, loop, speed) put in its header: the
    results page and the `tmr serve` page share them, as they share the player."""
    return read_asset(name).replace("__TMR_PLAYER_CONTROLS__", read_asset("player_controls.html").rstrip("\n"))


def read_asset(name: str) -> str:
    """A file of tmrcli/views/assets (the page templates, the shared player script and styles)."""
    return resources.files("tmrcli.views").joinpath("assets", name).read_text(encoding="utf-8")


def script_json(payload: object) -> str:
    """JSON to embed in a <script type="application/json"> element: "<" never appears raw, so no
    text can close the element early."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def drawing_data() -> dict:
    """What the player needs besides the figures: the integer scale, the skeleton, the colours."""
    return {
        "scale": _SCALE,
        "joints": NUM_JOINTS,
        "head": JOINT_INDEX["head"],
        "bones": [[parent, child, side] for parent, child, side in BONES],
        "colours": {**SIDE_COLOURS, "grid": GRID_COLOUR, "trajectory": TRAJECTORY_COLOUR},
    }


def figure_data(scene: Scene) -> dict:
    """One figure for the player: every frame's projected joints, the trajectory and the floor grid."""
    return {
        "fps": scene.fps,
        "start": scene.start,
        "frames": scene.num_frames,
        "joints": _ints(scene.joints),
        "trajectory": _ints(scene.trajectory),
        "grid": _ints(scene.grid),
    }


def _hit_data(hit: HitView) -> dict:
    export = f"tmr export {shlex.quote(hit.path)} --start {hit.start:.2f} --end {hit.end:.2f} -o {shlex.quote(_bvh_name(hit))}"
    return {
        "rank": hit.rank,
        # A ranked result is "#N"; a motion shown without a query (tmr show) is named by its file.
        "label": f"#{hit.rank}" if hit.score is not None else Path(hit.path).name,
        "span": f"{format_span(hit.start, hit.end)} ({hit.duration:.2f} s)",
        "score": hit.score,
        "path": hit.path,
        "start": round(hit.start, 3),
        "end": round(hit.end, 3),
        "duration": round(hit.duration, 3),
        "export": export,
        "figure": None if hit.scene is None else figure_data(hit.scene),
        "problem": hit.problem,
    }


def _curve_data(curve: CurveView) -> dict:
    return {
        "path": curve.path,
        "times": np.round(curve.times, 3).tolist(),
        "scores": np.round(curve.scores, 4).tolist(),
        "segments": [{"start": s.start, "end": s.end, "score": s.score} for s in curve.segments],
        "figure": figure_data(curve.scene),
    }


def _bvh_name(hit: HitView) -> str:
    return f"{Path(hit.path).stem}_{hit.start:.1f}-{hit.end:.1f}.bvh"


def _ints(points: np.ndarray) -> list[int]:
    """View coordinates, flattened, as integers in units of 1 / _SCALE."""
    return np.round(np.asarray(points) * _SCALE).astype(np.int64).ravel().tolist()
