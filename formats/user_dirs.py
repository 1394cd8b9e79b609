"""Where tmr keeps things on the user's machine: the library in the data folder, what it can rebuild in
the cache folder. Here so that every layer (and the benchmarks) finds the same ones."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["xdg_cache_home", "user_cache_dir", "user_data_dir"]


def xdg_cache_home() -> Path:
    """The user's cache folder, shared by every program: $XDG_CACHE_HOME, else ~/.cache."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()


def user_cache_dir() -> Path:
    """Where converted features, text features and text-bank embeddings are cached: $XDG_CACHE_HOME/tmr
    (else ~/.cache/tmr)."""
    return xdg_cache_home() / "tmr"


def user_data_dir() -> Path:
    """Where the library lives unless told otherwise: $XDG_DATA_HOME/tmr (else ~/.local/share/tmr)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser().absolute() / "tmr"
