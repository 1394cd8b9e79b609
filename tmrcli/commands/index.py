"""`tmr index` and `tmr info`: build the motion library and say what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from tmrcli.commands.options import (
    MOTION_FILE_TYPES,
    MOTION_OPTIONS,
    CheckpointOption,
    ExcludeOption,
    JobsOption,
    JsonOption,
    ModelChoice,
    StoreOption,
    check_motion_paths,
    with_option_groups,
)
from tmrcli.library.defaults import library_path

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["index", "info"]


@with_option_groups
def index(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(
            metavar="PATH...",
            help=f"Motion files ({MOTION_FILE_TYPES}) or folders, searched recursively. "
            "None: check the files the library already holds.",
        ),
    ] = None,
    store: StoreOption = None,
    checkpoint: CheckpointOption = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Re-embed every file (the library's and PATH's) with --checkpoint; later commands on the "
            "library then use that checkpoint without being told.",
        ),
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Drop indexed files under PATH (or anywhere, without PATH) that are gone.")
    ] = False,
    options: LoadOptions = MOTION_OPTIONS,
    exclude: ExcludeOption = None,
    jobs: JobsOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Files embedded and committed together.")] = 64,
    json_: JsonOption = False,
) -> None:
    """Index motion files into the library; unchanged files are skipped by content hash.

    Takes longer than 12 s are also indexed as overlapping 5 s windows, so search can point into them.
    Every batch is committed safely: an interrupted run keeps what it finished, and the next run resumes.

    Example: tmr index ~/mocap --prune
    """
    from formats.reading import available_cores
    from tmrcli.library.indexing import IndexRequest, find_files_to_index, run_index
    from tmrcli.library.store import MotionStore
    from tmrcli.views.render import IndexBar, render_index_report

    check_motion_paths(paths or [], "PATH")
    library = library_path(store)
    if not paths and not library.exists() and not MotionStore(library).delta_names():
        raise typer.BadParameter("the library is empty: give the motion files or folders to index", param_hint="PATH")
    request = IndexRequest(
        library,
        paths or [],
        options,
        rebuild,
        prune,
        batch_size,
        jobs or available_cores(),
        exclude or [],
        find_files_to_index(paths or [], exclude or [], prune),
    )
    retriever = ModelChoice(store, checkpoint).load()
    with IndexBar() as bar:
        report = run_index(request, retriever, bar)
    render_index_report(report, json_)
    if report.failed:
        raise typer.Exit(code=1)


def info(
    store: StoreOption = None,
    checkpoint: Annotated[
        Optional[str],
        typer.Option(
            envvar="TMR_CHECKPOINT",
            show_envvar=True,
            metavar="NAME|PATH",
            help="Also say whether the library was made by this model.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Read and verify every byte (checksums, ranges, the search index); say what to repair."
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """What the library holds: files, entries, the model that embedded them, size on disk.

    With --check, exit code 1 when anything is damaged, and what `tmr index --rebuild` would do.

    Example: tmr info --json
    """
    from tmrcli.library.info import library_info
    from tmrcli.library.store import MotionStore
    from tmrcli.views.render import render_check, render_info

    if check:
        from tmrcli.library.check import check_library

        report = check_library(MotionStore(library_path(store)))
        render_check(report, json_)
        if not report.ok:
            raise typer.Exit(code=1)
        return

    sha256 = None
    if checkpoint is not None:
        from model.checkpoint_file import checkpoint_sha256

        sha256 = checkpoint_sha256(checkpoint)
    render_info(library_info(MotionStore(library_path(store)), sha256), json_)
