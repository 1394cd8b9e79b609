"""The Typer commands, one module per command or family of commands, and the options they share."""
