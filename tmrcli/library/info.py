"""`tmr info`: what a library holds, which model made it, how much disk it takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmrcli.library.store import MotionStore

__all__ = ["LibraryInfo", "library_info"]


@dataclass(frozen=True)
class LibraryInfo:
    """A library in numbers. `entries` counts embeddings (whole takes plus windows of long takes);
    `segments` counts the deltas (committed batches) not yet compacted into the base; `pending_rebuild` counts
    files of an unfinished `tmr index --rebuild`."""

    store: str
    files: int
    entries: int
    windows: int
    motion_seconds: float
    checkpoint_sha256: str | None
    dim: int | None
    checkpoint: str | None  # what --checkpoint takes to load that model: its registered name or file path
    bytes_on_disk: int
    segments: int  # delta files; the JSON key of `tmr info` keeps its first name
    ann_index: str  # "ready", "missing" (built by the next search) or "none" (empty library)
    pending_rebuild: int
    updated: str | None
    matches_checkpoint: bool | None  # whether --checkpoint made these embeddings (None: not asked)


def library_info(store: MotionStore, checkpoint_sha256: str | None = None) -> LibraryInfo:
    """Read the library (no lock needed) and sum it up; StoreError when missing or damaged.
    With `checkpoint_sha256`, also whether that checkpoint made the library's embeddings."""
    from model.checkpoint_file import registered_name

    sha256 = checkpoint_sha256
    with store.snapshot() as view:
        files = view.live_files()
        entries = sum(int(mask.sum()) for _, mask, _ in view.live_entries())
        base = view.base
        if base is None or not base.header.entries:
            ann = "none"
        else:
            ann = "ready" if store.ann_path(base.header.file_id).is_file() else "missing"
        created = [g.header.created for g in view.store_files]
        pending = sum(h.files for h in view.pending)
        return LibraryInfo(
            store=str(store.path),
            files=len(files),
            entries=entries,
            windows=entries - len(files),
            motion_seconds=round(float(np.sum(files.duration)), 1),
            checkpoint_sha256=view.checkpoint_sha256,
            dim=view.dim,
            checkpoint=view.checkpoint or registered_name(view.checkpoint_sha256),
            bytes_on_disk=sum(p.stat().st_size for p in store.disk_files()),
            segments=len(view.deltas),
            ann_index=ann,
            pending_rebuild=pending,
            updated=max(created) if created else None,
            matches_checkpoint=None if sha256 is None else sha256 == view.checkpoint_sha256,
        )
