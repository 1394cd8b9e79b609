"""What a library is used with when nothing is said: where it lives, and the checkpoint that embeds into it.

One rule for the commands (`--store`, `--checkpoint`) and the Python API (`Library(path, model)`): a
library is searched with the model that indexed it, which it records, so nobody has to repeat the
checkpoint, and a library indexed with another model than `default` is never searched with `default`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model.inference import Retriever
    from model.small_work import SmallWorkRetriever
    from tmrcli.library.store import MotionStore

__all__ = ["DEFAULT_CHECKPOINT", "library_path", "library_checkpoint", "load_library_model"]

DEFAULT_CHECKPOINT = "default"


def library_path(given: Path | None) -> Path:
    """The library file: as given (a folder means its library.h5), else library.h5 in the user's data
    folder ($XDG_DATA_HOME/tmr)."""
    if given is not None:
        given = given.expanduser()
        return (given / "library.h5" if given.is_dir() else given).absolute()
    from formats.user_dirs import user_data_dir

    return user_data_dir() / "library.h5"


def library_checkpoint(library: MotionStore, given: str | Path | None) -> str | Path:
    """The checkpoint to use with `library`: `given`, else the one the library recorded when it was
    indexed, else `default`. A recorded checkpoint file that is gone is a StoreError naming it and what
    to pass instead."""
    if given is not None:
        return given
    recorded = library.recorded_checkpoint()
    if recorded is None:
        return DEFAULT_CHECKPOINT
    from model.checkpoint_file import available_checkpoints

    if recorded not in available_checkpoints() and not Path(recorded).is_file():
        from tmrcli.library.errors import StoreError

        raise StoreError(
            library.path,
            f"the library was indexed with checkpoint {recorded}, which is no longer there",
            hint="pass --checkpoint with that checkpoint's new path, or re-index with another: "
            "tmr index --rebuild --checkpoint NAME|PATH",
        )
    return recorded


def load_library_model(
    library: MotionStore,
    given: str | Path | None,
    *,
    text_model: str | Path | None = None,
    device: str | None = None,
    small_work: bool = False,
) -> Retriever | SmallWorkRetriever:
    """The model of `library_checkpoint`, its text backbone found by name unless `text_model` (a folder)
    is given; CheckpointError when it cannot be loaded. With `small_work` (one query, one motion), the
    numpy `SmallWorkRetriever`, which imports torch only for big work, on the CPU (`device` unused)."""
    checkpoint = library_checkpoint(library, given)
    if small_work:
        from model.small_work import load_small_work_retriever

        return load_small_work_retriever(checkpoint, text_model=text_model)
    from model import load_retriever

    return load_retriever(checkpoint, text_model=text_model, device=device)
