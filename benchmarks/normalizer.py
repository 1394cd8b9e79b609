"""How each source's features look through a checkpoint's normaliser: the share of frames with a
normalised feature above 20, and the largest one. The first default model's statistics turned other
rigs' frames into inputs of 10^5 (a spine rotation dimension with std 3e-6 on its training rigs); the
std floor (`tmr train --std-floor`) is what keeps them ordinary.

Usage: .venv/bin/python benchmarks/normalizer.py [CHECKPOINT ...]   (default: the shipped `default`)
"""

from __future__ import annotations

import collections
import sys

import numpy as np

from common import DEFAULT_DATA


def main() -> None:
    from formats.errors import TmrError
    from formats.user_dirs import user_cache_dir
    from model.checkpoint import load_checkpoint
    from model.clips import read_clips_table
    from model.datasets import load_features_cached

    data = DEFAULT_DATA
    feats: dict[str, list[np.ndarray]] = collections.defaultdict(list)
    for row in read_clips_table(data):
        try:
            feats[row.source].append(load_features_cached(data / row.path, user_cache_dir() / "features"))
        except TmrError:
            continue  # a rig or format this checkout cannot read yet
    for name in sys.argv[1:] or ["default"]:
        normalizer = load_checkpoint(name).normalizer
        print(f"{name}: smallest std {normalizer.std.min():.3g}")
        for source, clips in sorted(feats.items()):
            z = np.abs(normalizer.normalize(np.concatenate(clips)))
            share = 100 * (z.max(axis=1) > 20).mean()
            print(f"  {source:18s} {len(clips):4d} clips  frames with a feature above 20: {share:5.1f}%  largest {z.max():9.0f}")


if __name__ == "__main__":
    main()
