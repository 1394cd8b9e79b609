"""The options every command shares (one CLI vocabulary) and where the library and checkpoint come from.

`--store` / $TMR_STORE / `$XDG_DATA_HOME/tmr/library.h5` (else ~/.local/share/tmr/library.h5);
`--checkpoint` / $TMR_CHECKPOINT / the shipped `default`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from tmrcli.conversion import LoadOptions

__all__ = [
    "MotionFileArgument",
    "existing_motion_file",
    "StoreOption",
    "CheckpointOption",
    "JsonOption",
    "SkeletonMapOption",
    "FpsOption",
    "BodyModelOption",
    "JobsOption",
    "MotionsOption",
    "DEFAULT_CHECKPOINT",
    "store_path",
    "load_options",
    "check_motion_paths",
    "PAGE_SUFFIXES",
    "HtmlOption",
    "StartOption",
    "EndOption",
    "check_segment",
    "check_suffix",
]

DEFAULT_CHECKPOINT = "default"
MOTION_FILE_HELP = "A motion file (.bvh, .fbx, .glb, .gltf, .npz, .npy); FILE.glb#NAME for one animation of several."


def existing_motion_file(path: Path | None) -> Path | None:
    """A motion file that exists, or FILE#NAME naming an animation of one; a usage error otherwise."""
    if path is None:
        return None
    from formats import MOTION_SUFFIXES, motion_source

    file = motion_source(path)[0]
    if not file.exists():
        raise typer.BadParameter(f"{path} does not exist")
    if file.is_dir():
        raise typer.BadParameter(f"{path} is a folder, not a motion file")
    if file.suffix.lower() not in MOTION_SUFFIXES:
        raise typer.BadParameter(f"{path} must end in {', '.join(MOTION_SUFFIXES)}")
    return path


MotionFileArgument = Annotated[
    Path, typer.Argument(metavar="FILE", callback=existing_motion_file, help=MOTION_FILE_HELP)
]

StoreOption = Annotated[
    Optional[Path],
    typer.Option(
        "--store",
        envvar="TMR_STORE",
        show_envvar=True,
        metavar="PATH",
        help="The library file (or a folder to keep library.h5 in). Default: $XDG_DATA_HOME/tmr/library.h5.",
    ),
]
CheckpointOption = Annotated[
    str,
    typer.Option(
        "--checkpoint",
        envvar="TMR_CHECKPOINT",
        show_envvar=True,
        metavar="NAME|PATH",
        help="The model: a registered name or a checkpoint file.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document of the results on stdout.")]
SkeletonMapOption = Annotated[
    Optional[Path],
    typer.Option(
        exists=True, dir_okay=False, help="TOML or JSON map of SMPL joint name -> joint name, for other rigs."
    ),
]
FpsOption = Annotated[
    Optional[float], typer.Option(help="Frame rate of files that state none (bare .npy); default 20.")
]
BodyModelOption = Annotated[
    Optional[Path], typer.Option(exists=True, help="SMPL-family body model folder (or .npz), for AMASS pose files.")
]
JobsOption = Annotated[
    Optional[int],
    typer.Option("--jobs", "-j", min=1, help="Worker processes converting files; default: one per available core."),
]
MotionsOption = Annotated[
    Optional[Path], typer.Option(exists=True, file_okay=False, help="Feature files, for the TMR annotations layout.")
]


def store_path(given: Path | None) -> Path:
    """The library file: as given (a folder means its library.h5), else the user's data folder."""
    if given is not None:
        given = given.expanduser()
        return (given / "library.h5" if given.is_dir() else given).absolute()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser().absolute() / "tmr" / "library.h5"


def load_options(skeleton_map: Path | None, fps: float | None, body_model: Path | None) -> LoadOptions:
    """How to read motion files, from the shared options; bad values are usage errors (exit 2)."""
    from formats import SkeletonError, read_skeleton_map
    from tmrcli.conversion import LoadOptions

    if fps is not None and not fps > 0:
        raise typer.BadParameter("must be a positive number of frames per second", param_hint="--fps")
    mapping = None
    if skeleton_map is not None:
        try:
            mapping = read_skeleton_map(skeleton_map)
        except SkeletonError as error:
            raise typer.BadParameter(f"{skeleton_map}: {error.reason}", param_hint="--skeleton-map") from None
    return LoadOptions(skeleton_map=mapping, fps=fps, body_model=body_model)


def check_motion_paths(paths: list[Path], param_hint: str) -> None:
    """A file given by name must be a motion file (folders are searched); a usage error otherwise."""
    from tmrcli.conversion import is_motion_file

    for path in paths:
        if path.is_file() and not is_motion_file(path):
            raise typer.BadParameter(f"{path} is not a motion file ({MOTION_FILE_HELP[15:-1]})", param_hint=param_hint)


PAGE_SUFFIXES = (".html", ".htm")


def _page_path(page: Path | None) -> Path | None:
    if page is not None and page.suffix.lower() not in PAGE_SUFFIXES:
        raise typer.BadParameter(f"{page} must end in {', '.join(PAGE_SUFFIXES)}")
    return page


HtmlOption = Annotated[
    Optional[Path],
    typer.Option(
        "--html",
        metavar="PAGE",
        callback=_page_path,
        help="Also write a self-contained HTML page (.html) that plays the results as stick figures.",
    ),
]
StartOption = Annotated[float, typer.Option(help="Start of the segment, in seconds from the start of the file.")]
EndOption = Annotated[Optional[float], typer.Option(help="End of the segment, in seconds; default: the end of the motion.")]


def check_segment(start: float, end: float | None) -> None:
    """A segment must start at 0 s or later and end after it starts; otherwise a usage error (exit 2)."""
    if not start >= 0:  # also catches NaN
        raise typer.BadParameter(f"must be 0 or more seconds, got {start:g}", param_hint="--start")
    if end is not None and not end > start:
        raise typer.BadParameter(f"must be after --start ({start:g} s), got {end:g}", param_hint="--end")


def check_suffix(path: Path, suffixes: tuple[str, ...], param_hint: str) -> None:
    """An output whose suffix says a format we do not write is a usage error (exit 2)."""
    if path.suffix.lower() not in suffixes:
        raise typer.BadParameter(f"{path} must end in {', '.join(suffixes)}", param_hint=param_hint)
