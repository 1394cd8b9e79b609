"""`./setup.sh` run again on a set-up checkout (it says it is safe to): it succeeds and prints only what a
user needs, ending with tmr's version; no setuptools editable-install banner, no pip chatter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What pip and setuptools print when they are not kept quiet; none of it tells a user anything.
CHATTER = ("editable", "setuptools", "Building", "Successfully", "Requirement already", "Collecting", "running ", "notice")


def test_setup_again_prints_only_the_version() -> None:
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip("the suite is not running from this checkout's .venv, the one setup.sh manages")
    run = subprocess.run(["bash", str(REPO / "setup.sh")], cwd=REPO, capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    printed = [line for line in run.stdout.splitlines() if line.strip()]
    assert printed and printed[-1].startswith("tmr "), output
    lines = [line for line in output.splitlines() if line.strip()]
    assert not [line for line in lines if any(word.lower() in line.lower() for word in CHATTER)], output
