"""Render the README tour's images from the shared motion corpus: a frame of a `tmr show` GIF, a
screenshot of a results page and one of `tmr serve`'s page after a text search, in headless Chromium.

Usage: python docs/images/render_tour.py DATA_DIR   (DATA_DIR holds bandai-namco/; needs chromium)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from tmrcli.library.motion_segment import load_segment
from tmrcli.views.html_page import HitView, write_results_page
from tmrcli.views.scene import build_scene
from tmrcli.views.stickfigure import write_animation

HERE = Path(__file__).resolve().parent
CLIPS = "bandai-namco/dataset-2/data/dataset-2_{}.bvh"
# Clips chosen by their corpus labels (three left-hand waves, then a wave with both hands) and where
# in them the wave is; without a search behind them, the page shows no scores.
PAGE_QUERY = "a person waves with the left hand"
PAGE_CLIPS = [
    ("wave-left-hand_normal_001", 0.5, 4.0),
    ("wave-left-hand_youthful_002", 0.5, 4.5),
    ("wave-left-hand_active_001", 0.5, 4.0),
    ("wave-both-hands_normal_001", 0.5, 4.0),
]


def render_gif_frame(data: Path, work: Path) -> None:
    gif = work / "wave.gif"
    write_animation(build_scene(load_segment(data / CLIPS.format("wave-left-hand_normal_001"), 0.5, 4.0)), gif)
    with Image.open(gif) as animation:
        animation.seek(30)
        animation.convert("RGB").quantize(colors=32).save(HERE / "show-frame.png", optimize=True)


def render_page(work: Path, hits: list[HitView], query: str) -> None:
    page = work / "results.html"
    write_results_page(page, query, hits)
    shot = work / "page.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={work / 'profile'}", "--window-size=1280,620", "--virtual-time-budget=1500",
         f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True,
    )  # fmt: skip
    with Image.open(shot) as image:
        image.convert("RGB").quantize(colors=64).save(HERE / "results-page.png", optimize=True)


# `tmr serve`'s page: a text search over a few clips copied to a "mocap" folder (the page shows the
# paths the library holds), two left-hand waves among other actions.
SERVE_QUERY = "a person waves with the left hand"
SERVE_CLIPS = ["wave-left-hand_normal_001", "wave-left-hand_youthful_002", "wave-both-hands_normal_001",
               "walk_normal_001", "run_normal_001", "raise-up-both-hands_normal_001"]  # fmt: skip


def render_serve_page(data: Path, work: Path) -> None:
    tmr = [sys.executable, "-c", "from tmrcli.app import main; main()"]
    (work / "mocap").mkdir()
    for name in SERVE_CLIPS:
        shutil.copyfile(data / CLIPS.format(name), work / "mocap" / Path(CLIPS.format(name)).name)
    store = work / "library.h5"
    subprocess.run([*tmr, "index", str(work / "mocap"), "--store", str(store)], check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*tmr, "serve", "--store", str(store), "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()  # printed once it listens
        shot = work / "serve.png"
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             f"--user-data-dir={work / 'serve-profile'}", "--window-size=1280,860", "--virtual-time-budget=8000",
             f"--screenshot={shot}", f"{url}?q={SERVE_QUERY.replace(' ', '+')}"],
            check=True, capture_output=True,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait()
    with Image.open(shot) as image:
        image.convert("RGB").quantize(colors=64).save(HERE / "serve-page.png", optimize=True)


def main(data: Path) -> None:
    data = data.resolve()  # before the chdir below
    with tempfile.TemporaryDirectory(prefix="tmr-demo-") as folder:
        render_serve_page(data, Path(folder))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        render_gif_frame(data, work)
        # The page shows paths as the library holds them: relative to a "mocap" folder here.
        os.chdir(work)
        (work / "mocap").symlink_to(data.resolve())
        hits = []
        for rank, (name, start, end) in enumerate(PAGE_CLIPS, start=1):
            path = Path("mocap") / CLIPS.format(name)
            hits.append(HitView(rank, str(path), start, end, None, build_scene(load_segment(path, start, end))))
        render_page(work, hits, PAGE_QUERY)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
