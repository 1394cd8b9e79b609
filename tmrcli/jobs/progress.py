"""How a long job reports its stages without printing: the caller passes a `JobProgress` (the CLI's draws
bars on stderr, `tmrcli/views/progress.py`; `SILENT` draws nothing)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

__all__ = ["JobProgress", "StageUpdate", "SILENT"]


class StageUpdate(Protocol):
    """Moves a stage on: how much is done of how much, or a new description."""

    def __call__(self, completed: int | None = None, total: int | None = None, description: str | None = None) -> None: ...


class JobProgress(Protocol):
    """A stage is a context (entered while the work runs) that yields its updater; a note is one line."""

    def stage(self, description: str, total: int | None = None) -> AbstractContextManager[StageUpdate]: ...

    def note(self, message: str) -> None: ...


class _Silent:
    def stage(self, description: str, total: int | None = None) -> AbstractContextManager[StageUpdate]:
        return nullcontext(lambda completed=None, total=None, description=None: None)

    def note(self, message: str) -> None:
        pass


SILENT: JobProgress = _Silent()
