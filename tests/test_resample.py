"""Resampling to 20 fps: seeded property tests."""

from __future__ import annotations

import numpy as np
import pytest

from formats.resample import resample, resampled_length

RATES = [20.0, 24.0, 25.0, 29.97, 30.0, 50.0, 59.999, 60.0, 100.0, 120.0, 12.5, 10.0]


@pytest.mark.parametrize("seed", range(5))
def test_duration_is_kept_within_half_a_frame(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        num_frames = int(rng.integers(1, 5000))
        source_fps, target_fps = rng.choice(RATES), rng.choice(RATES)
        frames = resample(rng.normal(size=(num_frames, 2, 3)), source_fps, target_fps)
        assert frames.shape[0] == resampled_length(num_frames, source_fps, target_fps)
        assert abs(frames.shape[0] / target_fps - num_frames / source_fps) <= 0.5 / target_fps + 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_motion_linear_in_time_is_sampled_exactly(seed: int) -> None:
    """Linear interpolation reproduces a linear trajectory: each output frame lies where the motion
    was at that frame's time, which checks the timing as well as the weights."""
    rng = np.random.default_rng(seed)
    start, velocity = rng.normal(size=(1, 22, 3)), rng.normal(size=(1, 22, 3))
    source_fps = float(rng.choice(RATES))
    times = np.arange(int(rng.integers(2, 600)))[:, None, None] / source_fps
    frames = resample(start + velocity * times, source_fps, 20.0)
    new_times = np.minimum(np.arange(len(frames)) / 20.0, times[-1, 0, 0])[:, None, None]
    np.testing.assert_allclose(frames, start + velocity * new_times, atol=1e-9)


def test_same_rate_is_untouched_and_first_frame_is_kept() -> None:
    frames = np.random.default_rng(0).normal(size=(37, 22, 3))
    assert resample(frames, 20.0, 20.0) is frames
    np.testing.assert_array_equal(resample(frames, 30.0, 20.0)[0], frames[0])
