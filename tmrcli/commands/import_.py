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
        typer.Option(exists=True, file_okay=False, help="A local distilbert-base-uncased folder (the run's backbone)."),
    ] = None,
    with_decoder: Annotated[
        bool, typer.Option(help="Keep the motion decoder (needed to train further, not to search).")
    ] = False,
) -> None:
    """Import an official TMR run (HumanML3D or KIT-ML) so every command can use it with --checkpoint.

    Example: tmr import models/tmr_humanml3d_guoh3dfeats --stats stats/humanml3d/guoh3dfeats
    --text-model ~/models/distilbert-base-uncased -o tmr_humanml3d.safetensors
    """
    from model.checkpoint import save_checkpoint
    from model.official import import_official_run

    imported = import_official_run(run, stats_dir=stats, text_model=text_model)
    save_checkpoint(output, imported.model, imported.normalizer, imported.provenance, include_decoder=with_decoder)
    err.print(f"{imported.provenance.trained_on}; text backbone: {imported.config.text_model}")
    out.print(str(output), markup=False, highlight=False)
