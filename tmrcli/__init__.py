"""The `tmr` command line: Typer commands, the motion library store and search orchestration."""

__version__ = "0.1.0"

__all__ = ["__version__"]
