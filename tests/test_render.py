"""How result tables read in a terminal: paths relative when shorter, never cut."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tmrcli.library.results import SearchHit
from tmrcli.views.console import out
from tmrcli.views.render import render_hits


def test_a_terminal_shows_paths_relative_when_shorter_and_never_cuts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = tmp_path / "mocap" / ("a-very-long-take-name-" * 3 + "walk.bvh")
    outside = Path("/elsewhere") / ("another-long-folder-" * 3) / "run.bvh"
    monkeypatch.chdir(tmp_path)
    # A 60-column terminal, said the way Rich documents (read when it prints): TTY_COMPATIBLE, COLUMNS.
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "60")
    assert out.is_terminal and out.width == 60
    render_hits([SearchHit(1, 0.9, str(inside), 0.0, 2.0), SearchHit(2, 0.8, str(outside), 0.0, 3.0)], json_=False)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    rows = shown.splitlines()
    assert len(rows) == 3
    assert rows[1].split()[2] == str(inside.relative_to(tmp_path))
    assert rows[2].split()[2] == str(outside)  # ../../elsewhere/... would be longer


COMMANDS = ["convert", "index", "search", "caption", "localize", "info", "train", "eval", "distill", "show", "export", "import", "serve"]
JSON = {"convert", "index", "search", "caption", "localize", "info", "train", "eval", "distill"}
CHECKPOINT = {"index", "search", "caption", "localize", "info", "eval", "serve"}


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_type_on_flags_and_the_options_the_readme_promises(command: str | None) -> None:
    from typer.testing import CliRunner

    from tmrcli.app import app

    result = CliRunner().invoke(app, [*([command] if command else []), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "<bool>" not in result.stdout
    if command is not None:
        assert ("--json " in result.stdout) == (command in JSON)
        assert ("--checkpoint " in result.stdout) == (command in CHECKPOINT)
