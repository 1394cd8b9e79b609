"""`tmr convert`: motion files to HumanML3D 263-d features (and canonical joints), one .npy each."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tmrcli.views.console import err, print_error
from tmrcli.commands.options import (
    MOTION_FILE_TYPES,
    MOTION_OPTIONS,
    ExcludeOption,
    JobsOption,
    JsonOption,
    check_motion_paths,
    with_option_groups,
)

if TYPE_CHECKING:
    from formats import SkippedFile
    from formats.reading import LoadOptions
    from tmrcli.jobs.conversion import ConvertJob, ConvertReport

__all__ = ["convert"]


@with_option_groups
def convert(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUT", help=f"Motion files ({MOTION_FILE_TYPES}) or folders, searched recursively."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="OUTDIR", help="Folder to write the .npy files to.")
    ],
    joints: Annotated[
        bool, typer.Option("--joints", help="Also write <stem>.joints.npy: canonical joints (T, 22, 3) in metres.")
    ] = False,
    options: LoadOptions = MOTION_OPTIONS,
    exclude: ExcludeOption = None,
    jobs: JobsOption = None,
    json_: JsonOption = False,
) -> None:
    """Convert motion files to HumanML3D features, (T-1, 263) float32 at 20 fps, one .npy per file.

    A file found in an INPUT folder goes to OUTDIR/<its path in that folder>/<stem>.npy.

    Example: tmr convert ./mocap -o ./features --joints
    """
    from tmrcli.jobs.conversion import convert_files
    from formats.reading import available_cores

    planned, skipped = _plan(inputs, output, joints, exclude or [])
    with _progress(len(planned)) as advance:
        report = convert_files(planned, options, on_done=advance, workers=jobs or available_cores())
    _render(report, skipped, output, json_)
    if report.failed:
        raise typer.Exit(code=1)


def _plan(
    inputs: list[Path], output: Path, joints: bool, exclude: list[str]
) -> tuple[list[ConvertJob], list[SkippedFile]]:
    from formats import skip_summary
    from tmrcli.jobs.conversion import plan_conversion

    if output.exists() and not output.is_dir():
        raise typer.BadParameter(f"{output} exists and is not a folder", param_hint="--output")
    check_motion_paths(inputs, "INPUT")
    jobs, skipped = plan_conversion(inputs, output, with_joints=joints, exclude=exclude)
    if not jobs:
        summary = skip_summary(skipped)
        found = f"no motion files found ({MOTION_FILE_TYPES})" + (f"; {summary}" if summary else "")
        raise typer.BadParameter(found, param_hint="INPUT")
    return jobs, skipped


@contextmanager
def _progress(total: int) -> Iterator[Callable[[ConvertJob], None]]:
    """A Rich progress bar on stderr; yields the callback that advances it by one file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("converting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, TextColumn("{task.description}", markup=False), console=err, transient=True) as bar:
        task = bar.add_task("", total=total)
        yield lambda job: bar.update(task, advance=1, description=job.source.name)


def _render(report: ConvertReport, skipped: list[SkippedFile], output: Path, json_: bool) -> None:
    """A summary, the files passed over by kind, and one line per failed file on stderr; with --json,
    the results on stdout."""
    from formats import skip_summary

    frames = sum(item.frames for item in report.converted)
    seconds = sum(item.seconds for item in report.converted)
    total = len(report.converted) + len(report.failed)
    summary = f"converted {len(report.converted)} of {total} files into {output}"
    err.print(f"{summary} ({frames} frames, {seconds:.1f} s of motion)", markup=False, highlight=False, soft_wrap=True)
    if skipped:
        err.print(skip_summary(skipped), markup=False, highlight=False, soft_wrap=True)
    for failure in report.failed:
        print_error(failure.input, failure.reason)
    if json_:
        payload = {
            "converted": [asdict(item) for item in report.converted],
            "failed": [asdict(item) for item in report.failed],
            "skipped": [{"input": str(item.path), "kind": item.kind} for item in skipped],
        }
        typer.echo(json.dumps(payload, indent=2))
