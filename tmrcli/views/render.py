"""Results to people: Rich tables and a terminal plot on stdout, or one JSON document (`--json`).

Commands hand their result dataclasses here and format nothing themselves. Summaries of batch runs
and failures go to stderr, like every message that is not a result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer
from rich.table import Table
from rich.text import Text

from tmrcli.library.results import CaptionHit, SearchHit, Segment
from tmrcli.views.console import err, out, print_error, print_unwrapped, printable

if TYPE_CHECKING:
    from tmrcli.library.info import LibraryInfo
    from tmrcli.library.check import CheckReport
    from tmrcli.library.localize import CurvePoint, Localization
    from tmrcli.library.indexing import IndexReport

__all__ = [
    "render_reports",
    "plural",
    "print_json",
    "render_hits",
    "render_captions",
    "render_localization",
    "render_info",
    "render_index_report",
    "IndexBar",
    "curve_plot",
    "save_curve_png",
]

_BLOCKS = " ▁▂▃▄▅▆▇█"


def print_json(data: Any) -> None:
    """One JSON document on stdout."""
    typer.echo(json.dumps(data, indent=2))


def _shown(path: str) -> str:
    """In a terminal, a path relative to the working folder when that is shorter; piped, the full path
    as stored, so scripts get something they can open from anywhere; control characters escaped."""
    if not out.is_terminal:
        return printable(path)
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return printable(path)
    return printable(relative if len(relative) < len(path) else path)


def plural(count: int, noun: str) -> str:
    """`1 indexed file`, `3 indexed files`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _span(start: float, end: float) -> str:
    return f"{start:.1f}–{end:.1f} s"


def render_hits(hits: Sequence[SearchHit], json_: bool) -> None:
    """Search results: rank, score, confidence (text queries), file, segment, duration."""
    if json_:
        print_json([asdict(hit) for hit in hits])
        return
    if not hits:
        err.print("no matches", highlight=False)
        return
    sure = any(hit.confidence is not None for hit in hits)
    columns = ("rank", "score", *(("confidence",) if sure else ()), "file", "segment", "duration")
    table = Table(*columns, box=None, pad_edge=False)
    for hit in hits:
        confidence = (f"{hit.confidence:.2f}" if hit.confidence is not None else "-",) if sure else ()
        table.add_row(
            str(hit.rank), f"{hit.score:.3f}", *confidence, _shown(hit.path), _span(hit.start, hit.end),
            f"{hit.duration:.1f} s",
        )  # fmt: skip
    table.columns[columns.index("file")].no_wrap = True
    print_unwrapped(table)


def render_captions(captions: Sequence[CaptionHit], json_: bool) -> None:
    """Caption results: rank, score, sentence."""
    if json_:
        print_json([asdict(caption) for caption in captions])
        return
    table = Table("rank", "score", "description", box=None, pad_edge=False)
    for caption in captions:
        table.add_row(str(caption.rank), f"{caption.score:.3f}", caption.text)
    print_unwrapped(table)


def curve_plot(curve: Sequence[CurvePoint], best: Segment | None, duration: float, width: int, height: int = 6) -> Text:
    """A block-character chart of the curve; the columns of the best segment are highlighted and
    marked underneath, with the time axis."""
    chunks = np.array_split(np.arange(len(curve)), max(1, min(width, len(curve))))
    values = [max(curve[i].score for i in chunk) for chunk in chunks]
    times = [(curve[chunk[0]].time, curve[chunk[-1]].time) for chunk in chunks]
    width = len(chunks)
    low, high = min(values), max(values)
    levels = [round((v - low) / (high - low) * height * 8) if high > low else height * 4 for v in values]
    inside = [best is not None and t1 >= best.start and t0 <= best.end for t0, t1 in times]
    text = Text()
    for row in range(height, 0, -1):
        label = f"{high:.3f} " if row == height else (f"{low:.3f} " if row == 1 else " " * 6)
        text.append(label, style="dim")
        for level, marked in zip(levels, inside):
            block = _BLOCKS[min(8, max(0, level - (row - 1) * 8))]
            text.append(block, style="bold green" if marked else "cyan")
        text.append("\n")
    text.append(" " * 6 + "".join("▔" if m else " " for m in inside) + "\n", style="bold green")
    axis = f"0 s{'':>{max(0, width - len(f'{duration:.1f} s') - 3)}}{duration:.1f} s"
    text.append(" " * 6 + axis, style="dim")
    return text


def render_localization(result: Localization, json_: bool, text: str = "") -> None:
    """The segments (a table), then the curve with the best segment marked; when no stretch stands
    out, a note says so instead of the table."""
    if json_:
        print_json(asdict(result))
        return
    if not result.stands_out:
        if result.flat:
            why = "the curve is flat: no stretch scores clearly above the rest"
        else:
            why = f"the best stretch's confidence is {result.confidence:.2f}: the text does not clearly describe it"
        err.print(f"no segment stands out for {text!r}: {why}", markup=False, highlight=False)
        out.print(curve_plot(result.curve, None, result.duration, width=min(out.width, 100) - 8))
        return
    table = Table("rank", "score", "segment", "duration", box=None, pad_edge=False)
    for rank, segment in enumerate(result.segments, 1):
        table.add_row(
            str(rank), f"{segment.score:.3f}", _span(segment.start, segment.end), f"{segment.end - segment.start:.1f} s"
        )
    print_unwrapped(table)
    out.print()
    best = result.segments[0] if result.segments else None
    out.print(curve_plot(result.curve, best, result.duration, width=min(out.width, 100) - 8))


def save_curve_png(result: Localization, text: str, path: Path) -> None:
    """The curve as a PNG: the best segment shaded, the others outlined (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from formats.atomic import write_atomic

    figure, axes = pyplot.subplots(figsize=(9, 3), dpi=120)
    axes.plot([p.time for p in result.curve], [p.score for p in result.curve], color="tab:blue", lw=1.5)
    for rank, segment in enumerate(result.segments):
        axes.axvspan(segment.start, segment.end, color="tab:green", alpha=0.3 if rank == 0 else 0.1, lw=0)
    axes.set(xlim=(0, result.duration), xlabel="time (s)", ylabel="score", title=f"“{text}”")
    figure.tight_layout()
    try:
        write_atomic(path, lambda handle: figure.savefig(handle, format="png"))
    finally:
        pyplot.close(figure)


def render_check(report: CheckReport, json_: bool) -> None:
    """One line per problem on stderr, then what a rebuild would do; with --json, the report on stdout."""
    if json_:
        print_json(asdict(report) | {"ok": report.ok})
    for problem in report.problems:
        err.print(f"damaged: {printable(problem)}", highlight=False, soft_wrap=True)
    verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    err.print(
        f"checked {report.checked_files} library file(s) of {printable(report.store)}: {verdict}; {report.repair}",
        highlight=False,
        soft_wrap=True,
    )


def render_info(info: LibraryInfo, json_: bool) -> None:
    """What the library holds, as a two-column table."""
    if json_:
        print_json(asdict(info))
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    rows = [
        ("library", printable(info.store)),
        ("files", f"{info.files} ({info.motion_seconds / 60:.1f} min of motion)"),
        ("entries", f"{info.entries} ({info.windows} windows of long takes)"),
        ("checkpoint", _checkpoint_line(info)),
        ("embedding", f"{info.dim}-d" if info.dim else "-"),
        ("on disk", _bytes(info.bytes_on_disk)),
        ("segments", f"{info.segments} not yet compacted" if info.segments else "0"),
        ("search index", info.ann_index),
        ("updated", info.updated or "-"),
    ]
    if info.matches_checkpoint is not None:
        rows.append(
            (
                "--checkpoint",
                "made these embeddings"
                if info.matches_checkpoint
                else "did NOT make these embeddings (tmr index --rebuild)",
            )
        )
    if info.pending_rebuild:
        rows.append(
            ("rebuild", f"unfinished: {info.pending_rebuild} files re-embedded; run tmr index --rebuild to finish")
        )
    for name, value in rows:
        table.add_row(Text(name, style="bold"), value)
    print_unwrapped(table)


def _checkpoint_line(info: LibraryInfo) -> str:
    """The model that made the library: the name or path `--checkpoint` takes, and its SHA256."""
    if not info.checkpoint_sha256:
        return "none yet"
    if info.checkpoint is None:
        return f"sha256 {info.checkpoint_sha256} (name not recorded)"
    return f"{printable(info.checkpoint)} (sha256 {info.checkpoint_sha256})"


def _bytes(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


class IndexBar:
    """The `tmr index` progress bar on stderr: files done of all, clips (entries) embedded per second, ETA."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files {task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self._bar = Progress(*columns, console=err, transient=True)
        self._task = self._bar.add_task("", total=None, rate="")
        self._entries = 0

    def __enter__(self) -> IndexBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar.live.is_started:
            self._bar.stop()

    def start(self, files: int) -> None:
        """Shown only once there is work (a run that fails before never draws a bar)."""
        self._bar.update(self._task, total=files)
        self._bar.start()

    def advance(self, files: int, entries: int) -> None:
        """`files` more done, `entries` more embedded (the rate shown counts entries: clips and windows)."""
        self._entries += entries
        elapsed = self._bar.tasks[0].elapsed or 0.0
        rate = f"{self._entries / elapsed:.1f} clips/s" if elapsed > 0 else ""
        self._bar.update(self._task, advance=files, rate=rate)


def render_index_report(report: IndexReport, json_: bool) -> None:
    """The summary and one line per failure on stderr; with --json, the report on stdout."""
    err.print(
        f"indexed into {printable(report.store)}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.failed)} failed ({report.entries} entries embedded)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if report.unreadable_library:
        err.print(
            f"the previous library could not be read ({report.unreadable_library}); it was replaced",
            markup=False,
            highlight=False,
        )
    if report.missing:
        err.print(
            f"{plural(report.missing, 'indexed file')} {'is' if report.missing == 1 else 'are'} gone from disk; --prune drops them",
            markup=False,
            highlight=False,
        )
    if report.skipped:
        from formats import skip_summary

        err.print(skip_summary(report.skipped), markup=False, highlight=False, soft_wrap=True)
    for failure in report.failed:
        print_error(failure.input, failure.reason)
    if json_:
        payload = asdict(report)
        payload["skipped"] = [{"input": str(item.path), "kind": item.kind} for item in report.skipped]
        print_json(payload)


def render_reports(reports: list, json_: bool) -> None:
    """`tmr eval`: one table per protocol (the paper's columns), or one JSON document."""
    if json_:
        out.print(json.dumps([asdict(r) for r in reports], indent=2), markup=False, highlight=False, soft_wrap=True)
        return
    for report in reports:
        table = Table(title=report.protocol, title_justify="left")
        for column in ("", "R@1", "R@2", "R@3", "R@5", "R@10", "MedR"):
            table.add_column(column, justify="right")
        for name, m in (("text->motion", report.text_to_motion), ("motion->text", report.motion_to_text)):
            table.add_row(name, *(f"{v:.2f}" for v in (m.r1, m.r2, m.r3, m.r5, m.r10, m.median_rank)))
        print_unwrapped(table)
        if report.note:
            out.print(f"note: {report.note}", markup=False, highlight=False, soft_wrap=True)
        if report.left_right_confusion_t2m is not None:
            out.print(
                f"left/right confusions: text->motion {100 * report.left_right_confusion_t2m:.1f}%, "
                f"motion->text {100 * report.left_right_confusion_m2t:.1f}%"
            )
