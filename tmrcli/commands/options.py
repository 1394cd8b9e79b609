"""The options every command shares (one CLI vocabulary) and where the library and checkpoint come from.

`--store` / $TMR_STORE / `$XDG_DATA_HOME/tmr/library.h5` (else ~/.local/share/tmr/library.h5);
`--checkpoint` / $TMR_CHECKPOINT / the checkpoint the library records (`tmr index` writes it) / the
shipped `default` (the rule is the library's, `tmrcli/library/defaults.py`, which the Python API shares);
`--text-model`, the folder of the checkpoint's text backbone when it is not found by name
($TMR_TEXT_MODEL, the Hugging Face cache: `model/text_location.py`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from tmrcli.library.defaults import library_path

if TYPE_CHECKING:
    from formats.load_options import LoadOptions
    from model.inference import Retriever
    from model.small_work import SmallWorkRetriever
    from tmrcli.library.store import MotionStore

__all__ = [
    "MotionFileArgument",
    "existing_motion_file",
    "StoreOption",
    "CheckpointOption",
    "ModelStoreOption",
    "ModelOption",
    "ModelChoice",
    "TextModelOption",
    "JsonOption",
    "SkeletonMapOption",
    "AsfOption",
    "CharacterOption",
    "ExcludeOption",
    "FpsOption",
    "BodyModelOption",
    "JobsOption",
    "MotionsOption",
    "MOTION_FILE_TYPES",
    "load_options",
    "OptionGroup",
    "MOTION_OPTIONS",
    "LIBRARY_OPTIONS",
    "MODEL_OPTIONS",
    "with_option_groups",
    "check_motion_paths",
    "PAGE_SUFFIXES",
    "HtmlOption",
    "StartOption",
    "EndOption",
    "check_segment",
    "check_suffix",
]

# The motion files tmr reads, in words, for help texts and errors.
MOTION_FILE_TYPES = ".bvh, .amc, .fbx, .glb, .gltf, DeepMimic .json/.txt, .npz, .npy"
MOTION_FILE_HELP = f"A motion file ({MOTION_FILE_TYPES}); FILE.glb#NAME for one animation of several."


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

def _store_option(text: str) -> Any:
    return typer.Option("--store", envvar="TMR_STORE", show_envvar=True, metavar="PATH", help=text)


def _checkpoint_option(text: str) -> Any:
    return typer.Option("--checkpoint", envvar="TMR_CHECKPOINT", show_envvar=True, metavar="NAME|PATH", help=text)


_CACHE_BESIDE = "given, text-bank caches are kept beside it (PATH.d/cache/) instead of in $XDG_CACHE_HOME/tmr"
_DEFAULT_STORE = "Default: $XDG_DATA_HOME/tmr/library.h5."
StoreOption = Annotated[
    Optional[Path],
    _store_option(f"The library file (or a folder to keep library.h5 in); {_CACHE_BESIDE}. {_DEFAULT_STORE}"),
]
# For commands that read one motion: --store names the library whose model they use.
ModelStoreOption = Annotated[
    Optional[Path],
    _store_option(f"The library whose model to use when --checkpoint is not given; {_CACHE_BESIDE}. {_DEFAULT_STORE}"),
]
CheckpointOption = Annotated[
    Optional[str],
    _checkpoint_option(
        "The model: a registered name or a checkpoint file. Default: the one that indexed the library, else `default`."
    ),
]
# For commands that use no library (tmr eval): `default` unless told.
ModelOption = Annotated[str, _checkpoint_option("The model: a registered name or a checkpoint file.")]
TextModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--text-model",
        metavar="FOLDER",
        help="Folder of the checkpoint's text backbone (a local copy, e.g. of distilbert-base-uncased), when it "
        "is not found by name in $TMR_TEXT_MODEL or the Hugging Face cache.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document of the results on stdout.")]
SkeletonMapOption = Annotated[
    Optional[Path],
    typer.Option(
        exists=True, dir_okay=False, help="TOML or JSON map of SMPL joint name -> joint name, for other rigs."
    ),
]
AsfOption = Annotated[
    Optional[Path],
    typer.Option(
        "--asf",
        exists=True,
        dir_okay=False,
        metavar="FILE",
        help="ASF skeleton of the .amc motions, when none beside them is named as a prefix of theirs "
        "(HDM_bd.asf for HDM_bd_*.amc) or is the only .asf in their folder.",
    ),
]
CharacterOption = Annotated[
    Optional[Path],
    typer.Option(
        "--skeleton",
        exists=True,
        dir_okay=False,
        metavar="FILE",
        help="DeepMimic character file of DeepMimic motions of another character than humanoid3d (built in).",
    ),
]
ExcludeOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--exclude",
        metavar="GLOB",
        help="Leave out files in the folders given whose name or path in the folder matches GLOB "
        "(e.g. 'tmp/*', '*_raw.bvh'); repeatable.",
    ),
]
FpsOption = Annotated[
    Optional[float], typer.Option(help="Frame rate of files that state none: default 20 for a bare .npy, 120 for .amc.")
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


@dataclass(frozen=True)
class ModelChoice:
    """What --store, --checkpoint and --text-model say: the library, and the model to use with it."""

    store: Path | None
    checkpoint: str | None = None
    text_model: str | None = None

    @cached_property
    def motion_store(self) -> MotionStore:
        """The library (`library_path`), opened once for every use by the command."""
        from tmrcli.library.store import MotionStore

        return MotionStore(library_path(self.store))

    def load(self, *, small_work: bool = False) -> Retriever | SmallWorkRetriever:
        """The model: --checkpoint, else the one the library recorded, else `default` (`library_checkpoint`);
        its text backbone looked for as --text-model says. `small_work`: for a command that embeds one
        query or one motion, which then runs without torch (`model/small_work.py`)."""
        from tmrcli.library.defaults import load_library_model

        return load_library_model(self.motion_store, self.checkpoint, text_model=self.text_model, small_work=small_work)

    def cache(self) -> Path | None:
        """Where the command keeps its text-bank cache: beside the library when one was given (--store or
        $TMR_STORE) and exists, else None (the user's cache folder, $XDG_CACHE_HOME/tmr)."""
        if self.store is None:
            return None
        return self.motion_store.cache_folder if self.motion_store.exists() else None


def load_options(
    skeleton_map: Path | None,
    fps: float | None,
    body_model: Path | None,
    asf: Path | None = None,
    skeleton: Path | None = None,
    max_duration: float | None = None,
) -> LoadOptions:
    """How to read motion files, from the shared options; bad values are usage errors (exit 2)."""
    from formats.limits import MAX_FPS, MIN_FPS
    from formats.load_options import LoadOptions

    if fps is not None and not MIN_FPS <= fps <= MAX_FPS:
        raise typer.BadParameter(
            f"must be a positive number of frames per second, from {MIN_FPS:g} to {MAX_FPS:g}", param_hint="--fps"
        )
    if max_duration is not None and not max_duration > 0:
        raise typer.BadParameter("must be a positive number of seconds", param_hint="--max-duration")
    mapping = None
    if skeleton_map is not None:
        from formats import SkeletonError, read_skeleton_map

        try:
            mapping = read_skeleton_map(skeleton_map)
        except SkeletonError as error:  # one line naming the map, exit 2 (a usage error)
            from tmrcli.views.console import print_error

            print_error(str(skeleton_map), error.reason)
            raise typer.Exit(code=2) from None
    return LoadOptions(
        skeleton_map=mapping, fps=fps, body_model=body_model, asf=asf, character=skeleton, max_duration=max_duration
    )


@dataclass(frozen=True)
class OptionGroup:
    """Options that several commands share and take as one value. A command parameter whose default is
    a group gets the group's options in its place (`with_option_groups`), and `build` of what they say."""

    options: tuple[tuple[str, Any], ...]  # (parameter name, its Annotated type), in --help order
    build: Callable[..., Any]


MaxDurationOption = Annotated[
    Optional[float],
    typer.Option(metavar="SECONDS", help="Refuse motions longer than this (default 3600: one hour)."),
]
# How to read motion files, as one LoadOptions (`load_options`): the default of `options: LoadOptions`.
MOTION_OPTIONS: Any = OptionGroup(
    (
        ("skeleton_map", SkeletonMapOption),
        ("asf", AsfOption),
        ("skeleton", CharacterOption),
        ("fps", FpsOption),
        ("body_model", BodyModelOption),
        ("max_duration", MaxDurationOption),
    ),
    load_options,
)
# The library a command works on and the model it uses with it, as one ModelChoice.
LIBRARY_OPTIONS: Any = OptionGroup(
    (("store", StoreOption), ("checkpoint", CheckpointOption), ("text_model", TextModelOption)), ModelChoice
)
# The model of a command that reads one motion; --store names the library whose model it is.
MODEL_OPTIONS: Any = OptionGroup(
    (("store", ModelStoreOption), ("checkpoint", CheckpointOption), ("text_model", TextModelOption)), ModelChoice
)


def with_option_groups(command: Callable[..., None]) -> Callable[..., None]:
    """The command with each `OptionGroup` default replaced by the group's options (one vocabulary for
    every command that takes them), handed to it as the one value the group builds of them."""
    signature = inspect.signature(command)
    groups = {p.name: p.default for p in signature.parameters.values() if isinstance(p.default, OptionGroup)}
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.name in groups:
            parameters += [
                inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=annotation)
                for name, annotation in groups[parameter.name].options
            ]
        else:
            annotation = parameter.annotation
            if isinstance(annotation, str):  # `from __future__ import annotations`: Typer needs the objects
                annotation = eval(annotation, command.__globals__)
            parameters.append(parameter.replace(annotation=annotation))

    @functools.wraps(command)
    def with_groups(**kwargs: Any) -> None:
        for name, group in groups.items():
            kwargs[name] = group.build(**{option: kwargs.pop(option) for option, _ in group.options})
        return command(**kwargs)

    with_groups.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_groups.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return with_groups


def check_motion_paths(paths: list[Path], param_hint: str) -> None:
    """A file given by name must exist and be a motion file (folders are searched); a usage error
    otherwise: one line naming the path (a dangling or looping symlink says so), exit code 2."""
    from formats.reading import is_motion_file
    from tmrcli.views.console import print_error

    for path in paths:
        if not path.exists():
            reason = "does not exist"
            if path.is_symlink():
                reason = "is a symbolic link to nothing (dangling, or a loop)"
            print_error(str(path), reason)
            raise typer.Exit(code=2)
        if path.is_file() and not is_motion_file(path):
            raise typer.BadParameter(f"{path} is not a motion file ({MOTION_FILE_TYPES})", param_hint=param_hint)


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
