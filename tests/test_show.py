"""`tmr show`: stick-figure GIFs, PNG contact sheets and single-motion pages from real clips."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from formats import load_motion
from tmrcli.app import app
from tmrcli.views.scene import BONES, build_scene
from tmrcli.library.motion_segment import load_segment

WAVE = Path("bandai-namco/dataset-2/data/dataset-2_wave-left-hand_normal_001.bvh")
FEATURES = Path("humanml3d-ref/HumanML3D/new_joint_vecs/012314.npy")
BAD = Path(__file__).parent / "data" / "bad"


def _run(*args: str):
    return CliRunner().invoke(app, ["show", *map(str, args)])


def test_gif_has_one_frame_per_segment_frame(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "wave.gif"
    result = _run(data_dir / WAVE, "--start", "1.0", "--end", "2.25", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.size == (400, 400)
        assert gif.n_frames == 25  # 1.25 s at 20 fps
        assert gif.info["duration"] == 50  # ms per frame: real time at 20 fps
        first = np.asarray(gif.convert("RGB"))
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("RGB"))
    assert not np.array_equal(first, last)  # it moves (and the clock turns)


def test_png_contact_sheet_of_key_frames(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    result = _run(data_dir / FEATURES, "-o", out)  # HumanML3D features: turned back into joints
    assert result.exit_code == 0, result.output
    with Image.open(out) as sheet:
        assert sheet.format == "PNG" and sheet.size == (960, 480)  # 8 key frames, 2 rows of 4 panels
        pixels = np.asarray(sheet.convert("RGB")).astype(int)
    # Every panel shows limbs in the left (blue) and right (red) colours.
    for panel in (pixels[r * 240 : (r + 1) * 240, c * 240 : (c + 1) * 240] for r in range(2) for c in range(4)):
        red, blue = panel[..., 0], panel[..., 2]
        assert ((blue - red) > 100).sum() > 50 and ((red - blue) > 100).sum() > 50


def test_without_output_writes_a_temporary_gif(data_dir: Path) -> None:
    result = _run(data_dir / WAVE, "--start", "0.5", "--end", "1.0")
    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip())
    try:
        assert written.suffix == ".gif"
        with Image.open(written) as gif:
            assert gif.n_frames == 10
    finally:
        written.unlink()


def test_scene_keeps_every_frame_in_view(data_dir: Path) -> None:
    """The fixed camera frames the whole segment: a walk across the room stays inside the picture."""
    walk = data_dir / "bandai-namco/dataset-2/data/dataset-2_walk_normal_001.bvh"
    scene = build_scene(load_segment(walk))
    assert scene.joints.min() >= 0.0 and scene.joints.max() <= 1.0
    assert scene.joints.shape == (load_motion(walk).num_frames, 22, 2)
    assert {side for _, _, side in BONES} == {"left", "right", "spine"} and len(BONES) == 21


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_mp4(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "wave.mp4"
    assert _run(data_dir / WAVE, "--end", "1", "-o", out).exit_code == 0
    assert out.stat().st_size > 0


def test_mp4_without_ffmpeg_is_a_clear_error(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.animation import FFMpegWriter

    monkeypatch.setattr(FFMpegWriter, "isAvailable", classmethod(lambda cls: False))
    result = _run(data_dir / WAVE, "-o", tmp_path / "wave.mp4")
    assert result.exit_code == 1
    assert "needs ffmpeg" in result.stderr and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "3", "--end", "2"], "must be after --start"),
        (["--start", "-1"], "must be 0 or more seconds"),
        (["-o", "figure.jpg"], "must end in .gif, .mp4, .png"),
        (["--html", "page.pdf"], "must end in .html, .htm"),
    ],
)
def test_usage_errors_exit_2(data_dir: Path, args: list[str], message: str) -> None:
    result = _run(data_dir / WAVE, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_segment_outside_the_motion_is_one_line_and_exit_1(data_dir: Path, tmp_path: Path) -> None:
    result = _run(data_dir / WAVE, "--start", "60", "-o", tmp_path / "out.gif")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {data_dir / WAVE}: the segment starts at 60 s but the motion lasts")
    assert "Traceback" not in result.output and not (tmp_path / "out.gif").exists()


@pytest.mark.parametrize(("name", "reason"), [("truncated_motion.bvh", "truncated"), ("nan_joints.npy", "NaN")])
def test_bad_file_is_one_line_and_exit_1(tmp_path: Path, name: str, reason: str) -> None:
    result = _run(BAD / name, "-o", tmp_path / "out.gif")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {BAD / name}: ") and reason in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "out.gif").exists()


def test_html_page_names_its_single_motion_and_export_agrees_on_its_times(data_dir: Path, tmp_path: Path) -> None:
    """`show --html` labels the motion by its file (not "#1"), and gives the segment the times that
    `export` prints for it, for a whole take whose 30 fps frames do not fall on the 20 fps grid."""
    import json
    import re

    from formats.bvh import read_bvh

    take = data_dir / "bandai-namco/dataset-2/data/dataset-2_raise-up-both-hands_active_006.bvh"  # 46 frames at 30 fps
    clip = read_bvh(take)
    page = tmp_path / "page.html"

    def shown_hit() -> dict:
        script = re.search(r'<script type="application/json" id="tmr-data">(.*?)</script>', page.read_text(), re.S)
        [hit] = json.loads(script.group(1))["hits"]
        return hit

    assert _run(take, "--html", page).exit_code == 0
    hit = shown_hit()
    assert hit["label"] == take.name
    exported = CliRunner().invoke(app, ["export", str(take), "-o", str(tmp_path / "cut.bvh")])
    assert exported.exit_code == 0, exported.output
    take_seconds = clip.num_frames * clip.frame_time
    assert exported.stderr.startswith(f"0.00-{take_seconds:.2f} s: {clip.num_frames} frames")
    assert hit["span"] == f"0.00-{take_seconds:.2f} s ({take_seconds:.2f} s)"
    for start, end in [(0.5, 1.2), (0.3, None)]:
        args = ["--start", str(start)] + (["--end", str(end)] if end is not None else [])
        assert _run(take, *args, "--html", page).exit_code == 0
        shown = shown_hit()["span"]
        cut = CliRunner().invoke(app, ["export", str(take), *args, "-o", str(tmp_path / "cut.bvh")])
        assert cut.stderr.split(":")[0] == shown.split(" (")[0]


def test_long_segment_gif_is_drawn_at_a_lower_rate(data_dir: Path, tmp_path: Path) -> None:
    """Beyond 10 s a GIF keeps every other frame (10 fps, in real time), so a long take stays small;
    --gif-fps picks another rate."""
    take = data_dir / "bandai-namco/dataset-1/data/dataset-1_dance-short_normal_001.bvh"  # 63 s
    out = tmp_path / "dance.gif"
    assert _run(take, "--start", "10", "--end", "22", "-o", out).exit_code == 0
    with Image.open(out) as gif:
        assert gif.size == (400, 400) and gif.n_frames == 120 and gif.info["duration"] == 100
        assert len(gif.getpalette()) // 3 <= 32  # one small palette
    assert out.stat().st_size < 12 / 60 * 2e6  # on course for a 60 s take under 2 MB
    assert _run(take, "--start", "10", "--end", "12", "--gif-fps", "5", "-o", out).exit_code == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 10 and gif.info["duration"] == 200


def test_gif_frames_stay_bounded_for_any_length() -> None:
    from tmrcli.views.stickfigure import MAX_GIF_FRAMES, gif_frame_step
    from tmrcli.views.scene import Scene

    def scene(frames: int) -> Scene:
        return Scene(np.zeros((frames, 22, 2)), np.zeros((frames, 2)), np.zeros((0, 2, 2)), 20.0, 0.0)

    assert gif_frame_step(scene(200)) == 1 and gif_frame_step(scene(201)) == 2  # 10 s at 20 fps, then 10 fps
    for frames in (1267, 12_000, 72_000):  # a minute, ten minutes, an hour
        step = gif_frame_step(scene(frames))
        assert -(-frames // step) <= MAX_GIF_FRAMES
