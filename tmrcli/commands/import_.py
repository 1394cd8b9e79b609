"""`tmr import`: turn an official TMR run (Mathux/TMR) into a tmr checkpoint file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tmrcli.views.console import err, out

__all__ = ["import_run"]


def import_run(
    run: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="The run folder: config.json and last_weights/*.pt.")
    ],
    stats: Annotated[
        Path,
        typer.Option(exists=True, file_okay=False, help="TMR's stats/<dataset>/guoh3dfeats folder (mean, std)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The checkpoint file to write.")],
    text_model: Annotated[
        Optional[Path],
        typer.Option(
            exists=True, file_okay=False, metavar="FOLDER",
            help="A local copy of the run's text backbone (distilbert-base-uncased); default: found by name in "
            "$TMR_TEXT_MODEL or the Hugging Face cache.",
        ),
    ] = None,
    with_decoder: Annotated[
        bool, typer.Option(help="Keep the motion decoder (needed to train further, not to search).")
    ] = False,
) -> None:
    """Import an official TMR run (HumanML3D or KIT-ML) so every command can use it with --checkpoint.

    The run's text backbone must be on this machine (tmr never downloads): it is loaded once to check
    that its width is the run's. The checkpoint stores the backbone's name, so it can be moved; later
    commands find the backbone by name, in the folder used here, or where --text-model says.

    Example: tmr import models/tmr_humanml3d_guoh3dfeats --stats stats/humanml3d/guoh3dfeats
    --text-model ~/models/distilbert-base-uncased -o tmr_humanml3d.safetensors
    """
    from model.checkpoint import recorded_text_folder, save_checkpoint
    from model.official import import_official_run

    imported = import_official_run(run, stats_dir=stats, text_model=text_model)
    save_checkpoint(output, imported.model, imported.normalizer, imported.provenance, include_decoder=with_decoder)
    folder = recorded_text_folder(imported)
    err.print(
        f"{imported.provenance.trained_on}; text backbone: {imported.config.text_model} ({folder})",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip
    out.print(str(output), markup=False, highlight=False)
