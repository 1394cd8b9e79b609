"""The `tmr` application: command registration and the one error boundary.

Commands live in their own modules and import torch or transformers only inside their bodies, so
`tmr --help` stays instant.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

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


def _without_flag_types(params: list[Any]) -> list[Any]:
    """Flags take no value, so --help shows none (Typer would print `<bool>` beside each)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: typer.Context) -> list[Any]:
        return _without_flag_types(super().get_params(ctx))


class _GuardedGroup(TyperGroup):
    """Turns every expected failure (`TmrError`) into one line on stderr and exit code 1."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except TmrError as error:
            print_error(error.path, error.reason, error.hint)
            raise typer.Exit(code=1) from None

    def get_params(self, ctx: typer.Context) -> list[Any]:
        return _without_flag_types(super().get_params(ctx))


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


app.command(cls=_Command)(convert)
app.command(cls=_Command)(index)
app.command(cls=_Command)(search)
app.command(cls=_Command)(caption)
app.command(cls=_Command)(localize)
app.command(cls=_Command)(info)
app.command(cls=_Command)(train)
app.command("eval", cls=_Command)(evaluate)
app.command(cls=_Command)(distill)
app.command(cls=_Command)(show)
app.command(cls=_Command)(export)
app.command("import", cls=_Command)(import_run)
app.command(cls=_Command)(serve)


def main() -> None:
    """Console-script entry point. OpenMP threads that wait should sleep, not spin: spinning threads
    take the cores other processes need and, on a busy machine, make small encodes up to ten times
    slower (`benchmarks/under_load.py`). OpenMP reads this once, when torch loads, so it is set here,
    before any command imports torch; a value the user set is kept."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()
