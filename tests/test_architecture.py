"""The rules that keep the code base layered and `tmr --help` instant."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tmrcli import __version__
from tmrcli.app import app

REPO = Path(__file__).resolve().parents[1]

# Who may import whom: commands -> views / jobs / library -> model -> formats. Each folder names the
# packages (or tmrcli subpackages) its modules must never import, lazily or not.
FORBIDDEN = {
    "formats": {"model", "tmrcli", "torch", "transformers", "typer", "rich"},
    "model": {"tmrcli", "typer", "rich"},
    "tmrcli/library": {"typer", "rich", "tmrcli.commands", "tmrcli.views", "tmrcli.jobs", "tmrcli.app"},
    "tmrcli/jobs": {"typer", "rich", "tmrcli.commands", "tmrcli.views", "tmrcli.app"},
    "tmrcli/views": {"tmrcli.commands", "tmrcli.app"},
}
# Every tmrcli module lives in one of these folders; only the package marker and `tmr`'s entry point sit on top.
TMRCLI_FOLDERS = {"commands", "library", "jobs", "views"}
TMRCLI_TOP = {"__init__.py", "app.py"}


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, by its full dotted name, at any depth of the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _violates(module: str, forbidden: set[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in forbidden)


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_import_direction(folder: str) -> None:
    offenders = []
    for path in sorted((REPO / folder).rglob("*.py")):
        bad = sorted(m for m in _imported_modules(path) if _violates(m, FORBIDDEN[folder]))
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {bad}")
    assert not offenders, "\n".join(offenders)


def test_the_rule_sees_a_lazy_import_of_a_forbidden_layer(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from tmrcli.views.console import err\n    import rich.table\n")
    found = {m for m in _imported_modules(source) if _violates(m, FORBIDDEN["tmrcli/library"])}
    assert found == {"tmrcli.views.console", "tmrcli.views.console.err", "rich.table"}


def test_tmrcli_modules_live_in_their_layer() -> None:
    top = {p.name for p in (REPO / "tmrcli").glob("*.py")}
    folders = {p.name for p in (REPO / "tmrcli").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top == TMRCLI_TOP and folders == TMRCLI_FOLDERS


def test_cli_import_loads_no_heavy_library() -> None:
    code = (
        "import sys, tmrcli.app\n"
        "heavy = [m for m in ('torch', 'transformers', 'h5py', 'hnswlib', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_convert_loads_no_model(data_dir: Path, tmp_path: Path) -> None:
    """`tmr convert` is motion files to features (formats/ only): it must not pay torch's import."""
    clip = data_dir / "bandai-namco" / "dataset-1" / "data" / "dataset-1_bow_active_001.bvh"
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom tmrcli.app import app\n"
        f"result = CliRunner().invoke(app, ['convert', {str(clip)!r}, '-o', {str(tmp_path / 'bow.npz')!r}])\n"
        "print(result.exit_code, [m for m in ('torch', 'transformers') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []", result.stdout + result.stderr


def test_search_and_caption_load_no_torch(data_dir: Path, tmp_path: Path) -> None:
    """A query sentence, a query motion and a caption of one motion run in numpy (`model/small_work.py`):
    `tmr search TEXT`, `tmr search --like FILE` and `tmr caption FILE` must not pay torch's import."""
    clips = data_dir / "bandai-namco" / "dataset-1" / "data"
    bow, walk = clips / "dataset-1_bow_active_001.bvh", clips / "dataset-1_walk_active_001.bvh"
    store = tmp_path / "library.h5"
    indexed = CliRunner().invoke(app, ["index", str(bow), str(walk), "--store", str(store)])
    assert indexed.exit_code == 0, indexed.output
    for command in (
        ["search", "a person bows", "--store", str(store)],
        ["search", "--like", str(bow), "--store", str(store)],
        ["caption", str(walk)],
    ):
        code = (
            "import sys\nfrom typer.testing import CliRunner\nfrom tmrcli.app import app\n"
            f"result = CliRunner().invoke(app, {command!r})\n"
            "print(result.exit_code, [m for m in ('torch', 'transformers') if m in sys.modules])"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert result.stdout.strip().splitlines()[-1] == "0 []", (command, result.stdout + result.stderr)


def test_a_text_search_loads_no_motion_reader(data_dir: Path, tmp_path: Path) -> None:
    """`tmr search TEXT` reads no motion file, so it must not pay for importing the readers (about a
    tenth of its CPU time at a cold start)."""
    bow = data_dir / "bandai-namco" / "dataset-1" / "data" / "dataset-1_bow_active_001.bvh"
    store = tmp_path / "library.h5"
    assert CliRunner().invoke(app, ["index", str(bow), "--store", str(store)]).exit_code == 0
    readers = ("formats.motion", "formats.reading", "formats.bvh", "formats.amc", "formats.fbx", "formats.gltf")
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom tmrcli.app import app\n"
        f"result = CliRunner().invoke(app, ['search', 'a person bows', '--store', {str(store)!r}])\n"
        f"print(result.exit_code, [m for m in {readers!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_the_formats_package_exports_what_its_modules_declare() -> None:
    """`formats` names its exports without importing their modules; the table must stay the modules' own."""
    import importlib

    import formats

    declared = {}
    for module in sorted(set(formats._HOMES.values())):
        declared.update(dict.fromkeys(importlib.import_module(module).__all__, module))
    assert formats._HOMES == declared
    assert all(getattr(formats, name) is getattr(importlib.import_module(home), name) for name, home in declared.items())


def test_version_and_help() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def _scripts() -> list[Path]:
    return sorted([*REPO.glob("benchmarks/*.py"), *REPO.glob("docs/**/*.py")])


@pytest.mark.parametrize("script", _scripts(), ids=lambda p: str(p.relative_to(REPO)))
def test_scripts_import_names_that_exist(script: Path) -> None:
    """The benchmarks and doc scripts run by hand, so nothing else notices when a move leaves one of
    their imports of formats/, model/ or tmrcli/ behind."""
    tree = ast.parse(script.read_text(), filename=str(script))
    missing = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            continue
        if node.module.split(".")[0] not in ("formats", "model", "tmrcli"):
            continue
        try:
            module = importlib.import_module(node.module)
        except ImportError:
            missing.append(node.module)
            continue
        missing += [f"{node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)
                    and importlib.util.find_spec(f"{node.module}.{a.name}") is None]  # fmt: skip
    assert not missing, f"{script.name} imports names that do not exist: {missing}"
