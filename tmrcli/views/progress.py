"""The progress of long jobs on stderr: a transient bar per stage (`JobProgress` of `tmrcli/jobs/progress.py`),
or a spinner for stages whose size is unknown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tmrcli.jobs.progress import StageUpdate
from tmrcli.views.console import err

__all__ = ["BarProgress", "SpinnerProgress"]


class BarProgress:
    """Description, bar, done of total and time remaining; the bar disappears when its stage ends."""

    @contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator[StageUpdate]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err,
            transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task(description, total=total)

            def update(completed: int | None = None, total: int | None = None, description: str | None = None) -> None:
                fields = {"completed": completed, "total": total, "description": description}
                progress.update(task, **{k: v for k, v in fields.items() if v is not None})

            yield update

    def note(self, message: str) -> None:
        err.print(message)


class SpinnerProgress(BarProgress):
    """A spinner with the stage's description, for work that reports no counts."""

    @contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator[StageUpdate]:
        with err.status(description) as status:
            yield lambda completed=None, total=None, description=None: description and status.update(description)
