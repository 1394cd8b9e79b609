"""The README's test command in a clone with no corpus beside it: one clear line per test that needs the
corpus (a skip, or in CI a failure), never a traceback at collection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pytest_without_corpus(tmp_path: Path, *args: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    env["TMR_DATA"] = str(tmp_path / "no-corpus-here")
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("ci, exit_code", [(False, 0), (True, 1)])
def test_corpus_tests_say_where_the_corpus_is_expected(tmp_path: Path, ci: bool, exit_code: int) -> None:
    run = _pytest_without_corpus(
        tmp_path, "tests/test_motion.py", "tests/test_corpus.py", "-k", "walk or every_listed_clip", ci=ci
    )
    output = run.stdout + run.stderr
    assert run.returncode == exit_code, output
    assert "FileNotFoundError" not in output and "Traceback" not in output
    summary = [line for line in output.splitlines() if line.startswith(("SKIPPED", "ERROR", "FAILED"))]
    assert summary and all("needs the shared motion corpus" in line and "TMR_DATA" in line for line in summary)
    assert all(line.startswith("ERROR" if ci else "SKIPPED") for line in summary)
