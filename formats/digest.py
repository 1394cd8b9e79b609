"""The content hash of a file: how the library knows an unchanged file, and which checkpoint made
its embeddings. Here, below `model/`, so that indexing workers hash files without importing torch."""

from __future__ import annotations

import hashlib
from pathlib import Path

from formats.regular_files import open_regular

__all__ = ["file_sha256"]


def file_sha256(path: str | Path) -> str:
    """Hex SHA256 of a file's bytes: the identity a store records for the embeddings it holds.
    OSError (NotARegularFileError for a FIFO or device) when it cannot be read."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
