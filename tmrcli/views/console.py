"""The two consoles: results go to stdout, everything else (progress, warnings, errors) to stderr.

Neither interprets Rich markup: file names and queries are the user's text, and `walk[final].bvh` or
`[/b]` must print as they are. Styles are applied with `Text` objects instead.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.text import Text

__all__ = ["out", "err", "print_error", "print_unwrapped", "print_written", "printable", "format_span"]

# Rich resolves sys.stdout / sys.stderr at print time, so test runners that swap them still capture.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, markup=False)


def format_span(start: float, end: float) -> str:
    """'1.50-4.00 s': a segment's times in seconds, as every command and page shows them (one rounding)."""
    return f"{start:.2f}-{end:.2f} s"


def printable(text: str) -> str:
    """`text` with control and other unprintable characters escaped (`\\n`, `\\x1b`, `\\udcff` for an
    undecodable byte): a name never splits a line or sends escape sequences to the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode() for ch in text)


def print_error(path: str | None, reason: str, hint: str | None = None) -> None:
    """Print one line `error: <path>: <reason>`, plus an optional hint line."""
    where = f"{printable(path)}: " if path else ""
    err.print(Text.assemble(("error:", "bold red"), f" {where}{printable(reason)}"), highlight=False, soft_wrap=True)
    if hint:
        err.print(f"hint: {printable(hint)}", highlight=False, soft_wrap=True)


def print_written(path: Path, what: str) -> None:
    """Say on stderr where a side file (`--html`, `--plot`) went; stdout keeps the results (or the JSON)."""
    err.print(f"wrote {what}: {printable(str(path))}", highlight=False, soft_wrap=True)


def print_unwrapped(renderable: RenderableType) -> None:
    """Print a table one row per line: at its natural width when stdout is not a terminal (so
    `| grep` sees whole rows), and in a terminal too when a column that must not wrap (a path)
    would not fit; the terminal then folds the long line, but the path stays whole."""
    natural = Measurement.get(out, out.options.update_width(1 << 16), renderable).maximum
    unbreakable = any(column.no_wrap for column in getattr(renderable, "columns", ()))
    if out.is_terminal and (natural <= out.width or not unbreakable):
        out.print(renderable)
        return
    whole = Console(
        file=out.file, width=max(natural, 1), highlight=False, markup=False, color_system=out.color_system,
        force_terminal=out.is_terminal,
    )
    whole.print(renderable)
