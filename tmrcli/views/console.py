"""The two consoles: results go to stdout, everything else (progress, warnings, errors) to stderr."""

from __future__ import annotations

from rich.console import Console

__all__ = ["out", "err", "print_error"]

# Rich resolves sys.stdout / sys.stderr at print time, so test runners that swap them still capture.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def print_error(path: str | None, reason: str, hint: str | None = None) -> None:
    """Print one line `error: <path>: <reason>`, plus an optional hint line."""
    where = f"{path}: " if path else ""
    err.print(f"[bold red]error:[/] {where}{reason}", markup=True, highlight=False, soft_wrap=True)
    if hint:
        err.print(f"hint: {hint}", markup=False, highlight=False, soft_wrap=True)
