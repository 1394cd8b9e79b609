"""The `tmr` application: command registration and the one error boundary.

Commands live in their own modules and import torch or transformers only inside their bodies, so
`tmr --help` stays instant.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from formats.errors import TmrError
from tmrcli import __version__
from tmrcli.views.console import print_error
from tmrcli.commands.convert import convert
from tmrcli.commands.distill import distill
from tmrcli.commands.eval import evaluate
from tmrcli.commands.index import index, info
from tmrcli.commands.search import caption, localize, search
from tmrcli.commands.train import train
from tmrcli.commands.export import export
from tmrcli.commands.import_ import import_run
from tmrcli.commands.serve import serve
from tmrcli.commands.show import show

__all__ = ["app", "main"]


class _GuardedGroup(TyperGroup):
    """Turns every expected failure (`TmrError`) into one line on stderr and exit code 1."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except TmrError as error:
            print_error(error.path, error.reason, error.hint)
            raise typer.Exit(code=1) from None


app = typer.Typer(
    cls=_GuardedGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tmr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Search your own motion-capture library with words (TMR, ICCV 2023).

    Example: tmr index ./mocap && tmr search "a person jumps twice"
    """


app.command()(convert)
app.command()(index)
app.command()(search)
app.command()(caption)
app.command()(localize)
app.command()(info)
app.command()(train)
app.command("eval")(evaluate)
app.command()(distill)
app.command()(show)
app.command()(export)
app.command("import")(import_run)
app.command()(serve)


def main() -> None:
    """Console-script entry point."""
    app()
