"""`tmr search`, `tmr caption`, `tmr localize`: ask the library, or one motion, with words."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from tmrcli.commands.options import (
    LIBRARY_OPTIONS,
    MODEL_OPTIONS,
    MOTION_OPTIONS,
    HtmlOption,
    JsonOption,
    ModelChoice,
    MotionFileArgument,
    existing_motion_file,
    with_option_groups,
)
from tmrcli.views.console import err, print_written

if TYPE_CHECKING:
    from formats.reading import LoadOptions

__all__ = ["search", "caption", "localize"]



@with_option_groups
def search(
    text: Annotated[Optional[str], typer.Argument(help="What to look for, in words.")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many files to show.")] = 10,
    like: Annotated[
        Optional[Path],
        typer.Option(metavar="FILE", callback=existing_motion_file, help="Find motions like this one instead."),
    ] = None,
    min_score: Annotated[float, typer.Option(min=0.0, max=1.0, help="Hide matches scoring below this (0-1).")] = 0.0,
    min_confidence: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Hide text matches whose confidence is below this (0-1).")
    ] = 0.0,
    choice: ModelChoice = LIBRARY_OPTIONS,
    options: LoadOptions = MOTION_OPTIONS,
    json_: JsonOption = False,
    html: HtmlOption = None,
) -> None:
    """Find the motions in the library that best match a text (or, with --like, an example motion).

    One row per file, with the stretch of it that matches best; scores are (cos + 1) / 2 in [0, 1].
    A text match also has a confidence in [0, 1]: how clearly the text describes that motion, against
    how the model scores it with sentences about other actions (0: no better than those; 1: as well
    as the best of them). When even the best match is unclear, a note on stderr says so.

    Example: tmr search "a person waves with the left hand" -k 5
    """
    from tmrcli.views.render import plural, render_hits
    from tmrcli.library.search import find_motions_on_disk

    from model.calibration import NO_CLEAR_MATCH

    if (text is None) == (like is None):
        raise typer.BadParameter("give either TEXT or --like FILE", param_hint="TEXT")
    if text is not None and not text.strip():
        raise typer.BadParameter("the text is empty: say what to look for, in words", param_hint="TEXT")
    hits, gone = find_motions_on_disk(
        choice.motion_store, choice.load(small_work=True), k, text=text, like=like, min_score=min_score,
        min_confidence=min_confidence, options=options, cache=choice.cache(),
    )  # fmt: skip
    render_hits(hits, json_)
    if hits and hits[0].confidence is not None and hits[0].confidence < NO_CLEAR_MATCH:
        err.print(
            f"no clear match for {text!r}: the best hit's confidence is {hits[0].confidence:.2f} "
            f"(below {NO_CLEAR_MATCH}); the library may hold no such motion",
            markup=False, highlight=False,
        )  # fmt: skip
    if gone:
        err.print(f"left out {plural(gone, 'indexed file')} gone from disk; tmr index --prune drops them", markup=False)
    if html is not None:
        from tmrcli.views.html_page import write_search_page  # the readers, for the hits' joints

        write_search_page(html, text if text is not None else f"motions like {like}", hits, options)
        print_written(html, "results page")


@with_option_groups
def caption(
    file: MotionFileArgument,
    texts: Annotated[
        Optional[Path],
        typer.Option(
            exists=True, dir_okay=False, metavar="FILE", help="Your sentences, one per line; lines starting with # are comments (default: the model's own)."
        ),
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many descriptions to show.")] = 5,
    choice: ModelChoice = MODEL_OPTIONS,
    options: LoadOptions = MOTION_OPTIONS,
    json_: JsonOption = False,
) -> None:
    """Describe a motion: the sentences of a text bank that match it best.

    Example: tmr caption take_012.bvh -k 3
    """
    from tmrcli.library.caption import caption_file
    from tmrcli.views.render import render_captions

    with err.status("describing the motion"):
        captions = caption_file(file, choice.load(small_work=True), k, texts=texts, options=options, cache=choice.cache())
    render_captions(captions, json_)


@with_option_groups
def localize(
    file: MotionFileArgument,
    text: Annotated[str, typer.Argument(help="What to find in the motion, in words.")],
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="How many segments to show.")] = 3,
    plot: Annotated[
        Optional[Path], typer.Option(dir_okay=False, metavar="PNG", help="Also save the curve as a PNG image.")
    ] = None,
    choice: ModelChoice = MODEL_OPTIONS,
    options: LoadOptions = MOTION_OPTIONS,
    json_: JsonOption = False,
    html: HtmlOption = None,
) -> None:
    """Find when a text happens in a long motion: the best segments and the similarity curve over time.

    Segment scores are the curve's mean over each segment. When no stretch stands out (a flat curve,
    or a best stretch the text does not clearly describe), a note says so instead of the segments.

    Example: tmr localize long_take.bvh "a person kicks" --plot curve.png
    """
    from tmrcli.library.localize import localize_file
    from tmrcli.views.html_page import write_localize_page
    from tmrcli.views.render import render_localization, save_curve_png

    if not text.strip():
        raise typer.BadParameter("the text is empty: say what to find, in words", param_hint="TEXT")
    with err.status("scoring windows of the motion"):
        result = localize_file(file, text, choice.load(), top, options, choice.cache())
    render_localization(result, json_, text)
    if plot is not None:
        save_curve_png(result, text, plot)
        print_written(plot, "similarity plot")
    if html is not None:
        write_localize_page(html, text, file, result, options)
        print_written(html, "results page")
