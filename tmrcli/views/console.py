"""The two consoles: results go to stdout, everything else (progress, warnings, errors) to stderr.

Neither interprets Rich markup: file names and queries are the user's text, and `walk[final].bvh` or
`[/b]` must print as they are. Styles are applied with `Text` objects instead.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

__all__ = ["out", "err", "print_error", "printable"]

# Rich resolves sys.stdout / sys.stderr at print time, so test runners that swap them still capture.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, markup=False)


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
