"""The HTML results page: self-contained, and it plays in a real browser (headless Chromium).

The page generator is fed as `tmr search --html` and `tmr localize --html` feed it (their end-to-end
tests use a tiny random model: plumbing, not retrieval quality). The browser tests load the page through the DevTools protocol (`browser_check.py`) and require no
errors of any kind, no network request, and a drawn figure on every hit's canvas; the last tests
break a page on purpose and check that this inspection notices, so it cannot pass vacuously.
Screenshots are kept in tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from browser_check import find_chromium, inspect_page, page_problems
from tmrcli.app import app
from tmrcli.views.html_page import curve_view, hit_views, write_results_page
from tmrcli.library.results import SearchHit, Segment

ARTIFACTS = Path(__file__).parent / "artifacts"
DATA_2 = Path("bandai-namco/dataset-2/data")
HOP = Path("cmu-mocap/cgspeed_subject131/131_03.bvh")


@pytest.fixture(scope="module")
def chromium() -> str:
    """Chromium, which .ci/run installs; on a developer's machine without it these tests are skipped."""
    executable = find_chromium()
    if executable is None:
        if os.environ.get("TMR_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    return executable


@pytest.fixture(scope="module")
def search_page(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results page for three real clips and one file that has gone missing since it was indexed."""
    hits = [
        SearchHit(1, 0.8312, str(data_dir / DATA_2 / "dataset-2_wave-left-hand_normal_001.bvh"), 0.5, 3.0),
        SearchHit(2, 0.7925, str(data_dir / DATA_2 / "dataset-2_raise-up-left-hand_normal_002.bvh"), 0.0, 2.5),
        SearchHit(3, 0.6101, str(data_dir / "humanml3d-ref/HumanML3D/new_joint_vecs/012314.npy"), 1.0, 4.0),
        SearchHit(4, 0.5, str(data_dir / "moved-away.bvh"), 0.0, 2.0),
    ]
    page = tmp_path_factory.mktemp("page") / "results.html"
    write_results_page(page, "a person waves with the left hand </script><b>", hit_views(hits))
    return page


@pytest.fixture(scope="module")
def localize_page(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A localize page: a similarity curve along one clip (drawn from given numbers: this tests the
    drawing, not the model) with two segments marked."""
    times = np.arange(0.0, 9.75, 0.25)
    scores = 0.5 + 0.3 * np.exp(-(((times - 4.0) / 1.2) ** 2))
    segments = [Segment(3.0, 5.0, 0.79), Segment(7.5, 8.5, 0.55)]
    hits = [SearchHit(rank, s.score, str(data_dir / HOP), s.start, s.end) for rank, s in enumerate(segments, start=1)]
    page = tmp_path_factory.mktemp("page") / "localize.html"
    write_results_page(page, "a person hops", hit_views(hits), curve_view(data_dir / HOP, times, scores, segments))
    return page


def _embedded(page: Path) -> dict:
    text = page.read_text()
    match = re.search(r'<script type="application/json" id="tmr-data">(.*?)</script>', text, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_page_is_self_contained_and_embeds_the_hits(search_page: Path) -> None:
    text = search_page.read_text()
    assert not re.search(r"""(src|href)\s*=|https?://|@import|url\(""", text)
    assert "default-src 'none'" in text  # the browser itself refuses any request
    data = _embedded(search_page)
    assert [hit["rank"] for hit in data["hits"]] == [1, 2, 3, 4]
    first = data["hits"][0]
    assert (first["score"], first["start"], first["end"], first["duration"]) == (0.8312, 0.5, 3.0, 2.5)
    assert first["figure"]["frames"] == 50 and len(first["figure"]["joints"]) == 50 * 22 * 2
    assert first["export"].startswith("tmr export ") and "--start 0.50 --end 3.00 -o " in first["export"]
    assert data["hits"][3]["figure"] is None and data["hits"][3]["problem"] == "file not found"


def test_query_cannot_break_out_of_the_page(search_page: Path) -> None:
    text = search_page.read_text()
    assert "</script><b>" not in text
    assert "a person waves with the left hand &lt;/script&gt;&lt;b&gt;" in text
    assert _embedded(search_page)["curve"] is None


def test_show_writes_a_page_for_one_motion(data_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "walk.html"
    result = CliRunner().invoke(app, ["show", str(data_dir / HOP), "--end", "2", "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(page)  # --html alone writes no GIF
    (hit,) = _embedded(page)["hits"]
    assert hit["score"] is None and hit["figure"]["frames"] == 40


def test_search_page_plays_in_chromium(chromium: str, search_page: Path) -> None:
    report = inspect_page(search_page)
    _keep_screenshot(report.screenshot, "results-page.png")
    assert page_problems(report, figures=3) == []


def test_localize_page_plays_in_chromium(chromium: str, localize_page: Path) -> None:
    report = inspect_page(localize_page)
    _keep_screenshot(report.screenshot, "localize-page.png")
    assert page_problems(report, figures=2, has_curve=True) == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ('"use strict";\nthrow new Error("broken on purpose");', "broken on purpose"),
        ("CanvasRenderingContext2D.prototype.stroke = function () {};", "drew no figure"),
        ('document.body.append(Object.assign(new Image(), {src: "https://example.com/x.png"}));', "example.com"),
    ],
    ids=["throws", "draws-nothing", "fetches"],
)
def test_inspection_notices_a_broken_page(chromium: str, search_page: Path, tmp_path: Path, breakage: str, expected: str) -> None:
    text = search_page.read_text()
    if breakage.startswith('"use strict"'):
        broken = text.replace('"use strict";', breakage, 1)
    else:  # run before the page's own script
        broken = text.replace("<script>", f"<script>{breakage}</script>\n<script>", 1)
    assert broken != text
    page = tmp_path / "broken.html"
    page.write_text(broken)
    problems = page_problems(inspect_page(page), figures=3)
    assert any(expected in problem for problem in problems), problems


def _keep_screenshot(png: bytes, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    assert png.startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny seeded model: these tests check the plumbing of --html, not retrieval quality."""
    from model import Normalizer, Provenance, save_checkpoint
    from model_helpers import tiny_model

    path = tmp_path_factory.mktemp("model") / "tiny.tmr"
    provenance = Provenance(trained_on="nothing (random)", commit="0000000", created="2026-01-01T00:00:00Z", details={})
    save_checkpoint(path, tiny_model(), Normalizer(np.zeros(263), np.ones(263)), provenance)
    return path


def test_search_html(data_dir: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    clips = [data_dir / DATA_2 / f"dataset-2_{name}_normal_001.bvh" for name in ("wave-left-hand", "walk", "run")]
    runner, checkpoint = CliRunner(), ["--checkpoint", str(tiny_checkpoint)]
    indexed = runner.invoke(app, ["index", *map(str, clips), *checkpoint, "--jobs", "1"])
    assert indexed.exit_code == 0, indexed.output
    page = tmp_path / "results.html"
    result = runner.invoke(app, ["search", "a person waves", "-k", "3", "--json", "--html", str(page), *checkpoint])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)  # --json still prints the results, alone, on stdout
    assert f"wrote results page: {page}" in result.stderr.splitlines()
    data = _embedded(page)
    assert [(hit["path"], hit["start"], hit["end"], hit["score"]) for hit in data["hits"]] == [
        (hit["path"], hit["start"], hit["end"], hit["score"]) for hit in hits
    ]
    assert len(data["hits"]) == 3 and all(hit["figure"]["frames"] > 0 for hit in data["hits"])


def test_localize_html(data_dir: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    page = tmp_path / "localize.html"
    args = ["localize", str(data_dir / HOP), "a person hops", "--top", "2", "--html", str(page), "--checkpoint", str(tiny_checkpoint)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = _embedded(page)
    assert f"wrote results page: {page}" in result.stderr.splitlines()
    assert [hit["rank"] for hit in data["hits"]] == [1, 2]
    assert data["curve"]["path"] == str(data_dir / HOP) and len(data["curve"]["times"]) > 10
    assert [(s["start"], s["end"]) for s in data["curve"]["segments"]] == [(h["start"], h["end"]) for h in data["hits"]]


def test_html_suffix_is_checked_before_any_work(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["localize", str(data_dir / HOP), "a hop", "--html", "page.txt"])
    assert result.exit_code == 2 and "must end in .html, .htm" in result.stderr


def test_placeholder_names_in_a_query_or_file_name_stay_text(tmp_path: Path) -> None:
    query = "__TMR_DATA__ and __TMR_TITLE__ __TMR_KIND__"
    hits = [SearchHit(1, 0.5, str(tmp_path / "__TMR_DATA__" / "__TMR_HEADING__.bvh"), 0.0, 1.0)]
    page = tmp_path / "page.html"
    write_results_page(page, query, hit_views(hits))
    text = page.read_text()
    assert re.search(r"<title>(.*?)</title>", text, re.S).group(1) == f"tmr: {query}"
    assert text.count('"hits":') == 1  # the data went in once, into its script element
    assert _embedded(page)["hits"][0]["problem"] == "file not found"
