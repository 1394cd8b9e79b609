"""`tmr serve`, driven as people and tools use it: the real command in its own process, on a free
loopback port, asked over HTTP (httpx), its page loaded in headless Chromium.

The library holds real clips indexed with the shipped model; every answer is compared with what the
library code gives for the same question in this process (the same ranking as `tmr search`, the same
segments as `tmr localize`, the same bytes as `tmr export`), so the server adds transport, not results.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tmrcli.app import app
from tmrcli.library.live import motion_id

DATA_2 = Path("bandai-namco/dataset-2/data")
CLIPS = [DATA_2 / f"dataset-2_{name}_normal_001.bvh" for name in ("walk", "wave-left-hand", "run", "raise-up-both-hands")]
HOP = Path("cmu-mocap/cgspeed_subject131/131_03.bvh")
LATER = DATA_2 / "dataset-2_walk_normal_002.bvh"  # indexed while the server runs
EXAMPLE = DATA_2 / "dataset-2_walk_normal_003.bvh"  # never indexed: an uploaded example
# Asked at once and alone.
ACTIONS = ["walks forward", "waves with the left hand", "runs", "raises both hands", "hops on one leg", "turns around"]
# A file name that is markup: the page must show it as text.
HOSTILE_NAME = '<img src=x onerror="console.error(1)">walk.bvh'
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass
class Server:
    url: str
    store: Path
    cache: Path  # the server's cache folder: its caption bank
    process: subprocess.Popen
    client: httpx.Client
    hostile: Path

    def get(self, path: str, **params: object) -> httpx.Response:
        return self.client.get(path, params=params)


@pytest.fixture(scope="module")
def retriever():
    from model import load_retriever

    return load_retriever("default")


@pytest.fixture(scope="module")
def server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory, retriever) -> Iterator[Server]:
    """`tmr serve --port 0`, started before its library exists, over real clips (one under a hostile
    name) indexed while it loads; until Ctrl-C."""
    folder = tmp_path_factory.mktemp("serve")
    hostile = folder / HOSTILE_NAME
    shutil.copyfile(data_dir / CLIPS[0], hostile)
    store, cache = folder / "library.h5", folder / "cache"
    command = [sys.executable, "-c", "from tmrcli.app import main; main()", "serve", "--store", str(store), "--port", "0"]
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    paths = [str(data_dir / clip) for clip in [*CLIPS[1:], HOP]] + [str(hostile)]
    indexed = CliRunner().invoke(app, ["index", *paths, "--store", str(store), "--jobs", "1"])
    assert indexed.exit_code == 0, indexed.output
    url = process.stdout.readline().strip()  # the command prints its URL once it listens
    assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
    with httpx.Client(base_url=url, timeout=60) as client:
        yield Server(url, store, cache, process, client, hostile)
    if process.poll() is None:
        process.kill()
        process.wait()


def _hits(response: httpx.Response) -> list[tuple]:
    assert response.status_code == 200, response.text
    return [(hit["rank"], hit["score"], hit["path"], hit["start"], hit["end"]) for hit in response.json()["hits"]]


def _library(server: Server, retriever, **query) -> list[tuple]:
    from tmrcli.library.search import find_motions
    from tmrcli.library.store import MotionStore

    hits = find_motions(MotionStore(server.store), retriever, 10, **query)
    return [(h.rank, h.score, h.path, h.start, h.end) for h in hits]


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert isinstance(message, str) and message
    return message


def test_info_describes_the_library(server: Server) -> None:
    info = server.get("/api/info").json()
    assert info["files"] == 5 and info["matches_checkpoint"] is True and info["store"] == str(server.store)


def test_search_ranks_as_the_library_does(server: Server, retriever) -> None:
    response = server.get("/api/search", q="a person waves with the left hand", k=10)
    assert _hits(response) == _library(server, retriever, text="a person waves with the left hand")
    first = response.json()["hits"][0]
    assert first["id"] == motion_id(first["path"]) and first["duration"] == pytest.approx(first["end"] - first["start"])


@pytest.mark.parametrize("text", ["a person waves with the left hand", "bleep blop"])
def test_text_hits_carry_the_confidence_tmr_search_gives(server: Server, retriever, text: str) -> None:
    from tmrcli.library.search import find_motions
    from tmrcli.library.store import MotionStore

    served = [(hit["path"], hit["confidence"]) for hit in server.get("/api/search", q=text, k=5).json()["hits"]]
    searched = [(h.path, h.confidence) for h in find_motions(MotionStore(server.store), retriever, 5, text=text)]
    assert [path for path, _ in served] == [path for path, _ in searched]
    assert all(isinstance(c, float) for _, c in served), served
    assert [c for _, c in served] == pytest.approx([c for _, c in searched], abs=1e-3 + 1e-9)
    if text == "bleep blop":  # describes no motion: never a clear match
        assert max(c for _, c in served) < 0.3, served


def test_queries_asked_at_once_answer_as_asked_alone(server: Server) -> None:
    """Texts that arrive together are encoded in one batch (`model/query_batcher.py`): the same hits
    as asking one at a time. Scores are shown to 4 decimals and batched embeddings differ from lone
    ones by float rounding (~2e-7), which can tip the last digit: scores agree to one unit of it."""
    texts = [f"{who} {what}" for who in ("a person", "someone") for what in ACTIONS]
    alone = [_hits(server.get("/api/search", q=text, k=10)) for text in texts]

    async def ask_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            return await asyncio.gather(*(client.get("/api/search", params={"q": text, "k": 10}) for text in texts))

    together = [_hits(response) for response in asyncio.run(ask_at_once())]
    for one, other in zip(alone, together):
        assert [(rank, path, start, end) for rank, _, path, start, end in one] == [
            (rank, path, start, end) for rank, _, path, start, end in other
        ]
        assert max(abs(a[1] - b[1]) for a, b in zip(one, other)) <= 1e-4 + 1e-9


def test_text_queries_beyond_the_waiting_limit_are_503_and_the_rest_still_answers(server: Server, retriever) -> None:
    from starlette.testclient import TestClient

    from tmrcli.library.live import LiveLibrary
    from tmrcli.library.store import MotionStore
    from tmrcli.views.web import create_app

    library = LiveLibrary(MotionStore(server.store), retriever)
    try:
        # No text may wait at all: every text query is one too many; the app's own server, in-process.
        with TestClient(create_app(library, max_waiting_queries=0)) as client:
            busy = client.get("/api/search", params={"q": "a person walks"})
            assert "try again" in _error(busy, 503) and busy.headers["retry-after"] == "1"
            assert client.get("/api/info").status_code == 200
    finally:
        library.close()


def test_bad_queries_are_400_and_the_server_still_answers(server: Server) -> None:
    assert "?q=" in _error(server.get("/api/search"), 400)
    assert "?q=" in _error(server.get("/api/search", q="   "), 400)
    assert "from 1 to 100" in _error(server.get("/api/search", q="a walk", k=0), 400)
    assert "'many'" in _error(server.get("/api/search", q="a walk", k="many"), 400)
    assert "longer than" in _error(server.get("/api/search", q="x" * 1001), 400)
    assert _error(server.get("/api/nothing-here"), 404)
    assert server.get("/api/info").status_code == 200


def test_motion_gives_its_metadata_and_figure(server: Server, data_dir: Path) -> None:
    path = str(data_dir / HOP)
    motion = server.get(f"/api/motions/{motion_id(path)}", start=1, end=3).json()
    assert motion["path"] == path and motion["duration"] > 3
    assert (motion["start"], motion["end"], motion["figure"]["frames"]) == (1.0, 3.0, 40)
    assert len(motion["figure"]["joints"]) == 40 * 22 * 2
    assert "lasts" in _error(server.get(f"/api/motions/{motion_id(path)}", start=999), 400)
    assert "after start" in _error(server.get(f"/api/motions/{motion_id(path)}", start=2, end=1), 400)


@pytest.mark.parametrize("ident", ["0123456789abcdef", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"])
def test_only_motions_of_the_library_are_served(server: Server, ident: str) -> None:
    for suffix in ("", "/caption", "/export.bvh", "/localize?q=walk"):
        response = server.client.get(f"/api/motions/{ident}{suffix}")
        assert response.status_code == 404 and "error" in response.json()


def test_localize_finds_what_tmr_localize_finds(server: Server, data_dir: Path, retriever) -> None:
    from tmrcli.library.localize import localize_file

    path = data_dir / CLIPS[1]
    found = server.get(f"/api/motions/{motion_id(str(path))}/localize", q="a person waves", top=2).json()
    expected = asdict(localize_file(path, "a person waves", retriever, 2))
    assert (found["segments"], found["curve"], found["duration"]) == (expected["segments"], expected["curve"], expected["duration"])
    assert "?q=" in _error(server.get(f"/api/motions/{motion_id(str(path))}/localize"), 400)


def test_caption_describes_as_tmr_caption_does(
    server: Server, data_dir: Path, retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tmrcli.library.caption import caption_file

    path = data_dir / CLIPS[1]
    found = server.get(f"/api/motions/{motion_id(str(path))}/caption", k=3).json()["captions"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(server.cache))  # the bank the server embedded, not again
    assert found == [asdict(c) for c in caption_file(path, retriever, 3)]


def test_export_downloads_what_tmr_export_writes(server: Server, data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / CLIPS[1]
    response = server.get(f"/api/motions/{motion_id(str(path))}/export.bvh", start=0.5, end=2)
    assert response.status_code == 200, response.text
    assert 'filename="dataset-2_wave-left-hand_normal_001_0.5-2.0.bvh"' in response.headers["content-disposition"]
    written = tmp_path / "cut.bvh"
    result = CliRunner().invoke(app, ["export", str(path), "--start", "0.5", "--end", "2", "-o", str(written)])
    assert result.exit_code == 0, result.output
    assert response.content == written.read_bytes()


def test_more_like_this_is_tmr_search_like(server: Server, data_dir: Path, retriever) -> None:
    path = data_dir / CLIPS[2]
    response = server.get("/api/search", like=motion_id(str(path)))
    assert _hits(response) == _library(server, retriever, like=path)
    assert str(path) not in [hit[2] for hit in _hits(response)]
    assert _error(server.get("/api/search", like="ffffffffffffffff"), 404)


def test_upload_searches_by_example(server: Server, data_dir: Path, retriever) -> None:
    example = data_dir / EXAMPLE
    expected = _library(server, retriever, like=example)
    as_form = server.client.post("/api/search", files={"motion": (example.name, example.read_bytes())})
    assert _hits(as_form) == expected and as_form.json()["example"] == example.name
    as_body = server.client.post("/api/search", params={"name": example.name}, content=example.read_bytes())
    assert _hits(as_body) == expected


def test_junk_and_oversized_uploads_are_400_with_the_reason(server: Server, data_dir: Path) -> None:
    junk = server.client.post("/api/search", files={"motion": ("take.bvh", b"this is no motion capture")})
    assert _error(junk, 400).startswith("take.bvh: ") and "/tmp" not in junk.text
    sidecar = (data_dir / EXAMPLE).with_suffix(".json")  # Bandai-Namco's metadata, not a DeepMimic motion
    assert _error(server.client.post("/api/search", files={"motion": (sidecar.name, sidecar.read_bytes())}), 400).startswith(sidecar.name)
    assert "not a motion file" in _error(server.client.post("/api/search", files={"motion": ("notes.csv", b"a,b")}), 400)
    assert '"motion"' in _error(server.client.post("/api/search", files={"other": ("a.bvh", b"x")}), 400)
    assert "?name=" in _error(server.client.post("/api/search", content=b"HIERARCHY"), 400)
    limit = server.get("/api/info").json()["max_upload_bytes"]
    huge = server.client.post("/api/search", files={"motion": ("huge.bvh", b"0" * (limit + 1))})
    assert "larger than the limit" in _error(huge, 400)
    assert server.get("/api/info").status_code == 200


def test_page_searches_plays_and_localizes_in_chromium(server: Server) -> None:
    from browser_check import find_chromium, inspect_page, page_problems

    if find_chromium() is None:
        if os.environ.get("TMR_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    type_query = (
        "(() => { const q = document.getElementById('q'); q.focus(); q.value = 'a person walks';"
        " q.dispatchEvent(new Event('input')); })()"
    )
    state = (
        "({url: location.search, status: document.getElementById('status').textContent,"
        " paths: [...document.querySelectorAll('#hits .path')].map((p) => p.textContent),"
        " markup: document.querySelectorAll('#hits img, #hits b').length,"
        " selected: [...document.querySelectorAll('#hits .card')].findIndex((c) => c.classList.contains('selected')),"
        " playing: (document.querySelector('#hits .card.selected .player button') || {}).textContent})"
    )
    # Every hit has its figure (or says why not), and the URL says what was asked.
    drawn = "location.search.startsWith('%s') && document.getElementById('status').textContent !== 'searching…' && [...document.querySelectorAll('#hits .card')].every((c) => c.querySelector('canvas, .problem'))"
    localized = "document.querySelectorAll('#segments button').length > 0"
    key = "document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key: '%s', bubbles: true}))"
    steps = [
        (type_query, 0.0),
        (_until(drawn % "?q=") + ".then(() => " + state + ")", 0.5),
        ("document.querySelector('#hits .card .like').click()", 0.0),
        (_until(drawn % "?like=") + ".then(() => " + state + ")", 0.5),
        ("document.querySelectorAll('#hits .card .open')[0].click()", 0.0),
        (_until(localized), 0.5),
        (f"({key % 'ArrowDown'}, {key % 'ArrowRight'}, {key % ' '})", 0.2),
        (state, 0.0),
    ]
    report = inspect_page(server.url, steps=steps, settle=1.0)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "serve-page.png").write_bytes(report.screenshot)
    typed, liked, keyed = report.steps[1].value, report.steps[3].value, report.steps[7].value
    assert typed["url"] == "?q=a+person+walks" and typed["status"].startswith("5 results for")
    assert len(typed["paths"]) == 5 and str(server.hostile) in typed["paths"] and typed["markup"] == 0
    assert page_problems(report, figures=5, origin=server.url.rstrip("/"), canvases=report.steps[1].canvases) == []
    assert liked["url"].startswith("?like=") and len(liked["paths"]) == 4 and liked["paths"] != typed["paths"]
    assert page_problems(report, figures=4, origin=server.url.rstrip("/"), canvases=report.steps[3].canvases) == []
    assert page_problems(report, figures=4, has_curve=True, origin=server.url.rstrip("/")) == []
    assert (keyed["selected"], keyed["playing"]) == (1, "Play")  # down into the hits, right to the second, space pauses


def _until(condition: str, seconds: float = 20) -> str:
    """A promise that resolves once the JavaScript `condition` holds (rejects after `seconds`)."""
    return (
        "new Promise((resolve, reject) => { const since = Date.now(); const check = () => "
        f"({condition}) ? resolve(true) : Date.now() - since > {seconds * 1000} ? reject(new Error('timed out: ' + {condition!r}))"
        " : setTimeout(check, 50); check(); })"
    )


def test_index_beside_the_server_is_seen_at_the_next_query(server: Server, data_dir: Path) -> None:
    later = str(data_dir / LATER)
    assert server.get(f"/api/motions/{motion_id(later)}").status_code == 404
    indexed = CliRunner().invoke(app, ["index", later, "--store", str(server.store), "--jobs", "1"])
    assert indexed.exit_code == 0, indexed.output
    assert server.get("/api/info").json()["files"] == 6
    assert later in [hit["path"] for hit in server.get("/api/search", q="a person walks").json()["hits"]]
    assert server.get(f"/api/motions/{motion_id(later)}").status_code == 200


def test_ctrl_c_stops_the_server_cleanly(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = server.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise
    assert server.process.returncode == 0, stderr
    assert stderr.rstrip().endswith("stopped") and "Traceback" not in stderr


def test_non_loopback_host_warns_and_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model.tmr")
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0", "--checkpoint", missing])
    assert "warning: listening on 0.0.0.0" in result.stderr and result.exit_code == 1
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port), "--checkpoint", missing])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr and "warning" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_accepted_connections_have_nagle_off(host: str) -> None:
    """uvicorn writes an answer's headers and its body apart; with Nagle's algorithm on, the body waits
    for the client's delayed ACK (~40 ms a request). The listener `tmr serve` binds is served as
    uvicorn serves it (`loop.create_server(sock=...)`): each accepted connection must have TCP_NODELAY."""
    import socket

    from formats.errors import TmrError
    from tmrcli.commands.serve import _listen

    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[int] = loop.create_future()

        class Accepted(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted = transport.get_extra_info("socket")
                seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        try:
            listener = _listen(host, 0)
        except TmrError as error:  # a machine without IPv6 loopback
            pytest.skip(f"cannot listen on {host}: {error}")
        server = await loop.create_server(Accepted, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
            try:
                return await asyncio.wait_for(seen, 10)
            finally:
                writer.close()

    assert asyncio.run(accepted_nodelay()) != 0
