"""Options shared by the commands that read motion files: one flag name per concept (STYLE.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from tmrcli.conversion import LoadOptions

__all__ = [
    "SkeletonMapOption",
    "FpsOption",
    "BodyModelOption",
    "HtmlOption",
    "StartOption",
    "EndOption",
    "load_options",
    "check_segment",
    "check_suffix",
]

SkeletonMapOption = Annotated[
    Optional[Path],
    typer.Option(exists=True, dir_okay=False, help="TOML or JSON map of SMPL joint name -> joint name, for other rigs."),
]
FpsOption = Annotated[Optional[float], typer.Option(help="Frame rate of files that state none (bare .npy); default 20.")]
BodyModelOption = Annotated[
    Optional[Path], typer.Option(exists=True, help="SMPL-family body model folder (or .npz), for AMASS pose files.")
]


def load_options(skeleton_map: Path | None, fps: float | None, body_model: Path | None) -> LoadOptions:
    """The `load_motion` settings the user gave; a bad --fps or skeleton map is a usage error (exit 2)."""
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


HtmlOption = Annotated[
    Optional[Path],
    typer.Option("--html", metavar="PAGE", help="Also write a self-contained HTML page that plays every result."),
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
