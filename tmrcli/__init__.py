"""tmr: search your motion-capture library with words. The `tmr` command line, and the same from Python:

    from tmrcli import Library, load_model
    library = Library("motions.h5", load_model("default"))
    library.index(["mocap/"])
    hits = library.search("a person jumps twice", k=5)
    captions = library.caption(hits[0].path)

`load_model` (a registered name or a checkpoint file), `read_motion` (a motion file -> features and
joints) and `Library` (`index`, `search`, `caption`, `localize`, `info`) live in `tmrcli/library/api.py`;
their results are the dataclasses the commands print (`dataclasses.asdict` gives the `--json` output).
The names load on first use, so `tmr --help` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from formats.lazy_names import lazy_getattr

__version__ = "0.1.0"

# Each public name and the module that defines it.
_HOMES = {
    "load_model": "tmrcli.library.api",
    "read_motion": "tmrcli.library.api",
    "Library": "tmrcli.library.api",
    "MotionFeatures": "tmrcli.library.api",
    "SearchHit": "tmrcli.library.results",
    "CaptionHit": "tmrcli.library.results",
    "Segment": "tmrcli.library.results",
    "Localization": "tmrcli.library.localize",
    "CurvePoint": "tmrcli.library.localize",
    "IndexReport": "tmrcli.library.indexing",
    "LibraryInfo": "tmrcli.library.info",
    "LoadOptions": "formats.reading",
}

__all__ = ["__version__", *_HOMES]

if TYPE_CHECKING:
    from formats.reading import LoadOptions
    from tmrcli.library.api import Library, MotionFeatures, load_model, read_motion
    from tmrcli.library.indexing import IndexReport
    from tmrcli.library.info import LibraryInfo
    from tmrcli.library.localize import CurvePoint, Localization
    from tmrcli.library.results import CaptionHit, SearchHit, Segment

__getattr__ = lazy_getattr(__name__, _HOMES, globals())
