"""What each `tmr serve` API request computes, as JSON-ready dicts: blocking work (the model, HDF5,
reading motion files) that the app runs in worker threads. Motions are found by id in the live
library (`tmrcli.library.live`), never by a path from the request. Text queries are encoded by one
`QueryBatcher`, so the ones that arrive together are encoded together."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from formats.errors import SegmentError, TmrError
from formats.reading import LoadOptions, read_features
from model.query_batcher import QueryBatcher
from tmrcli.library.embedding import embed_whole
from tmrcli.library.errors import StoreError
from tmrcli.library.live import LiveLibrary, motion_id
from tmrcli.library.results import SearchHit
from tmrcli.library.storefile import FileRecord
from tmrcli.views.html_page import figure_data
from tmrcli.views.web_requests import ApiError

if TYPE_CHECKING:
    from concurrent.futures import Future

    import numpy as np

__all__ = ["Answers", "hit_json", "TextQuery"]

# A text query as encoded: its embedding and how much it reads like a description of a motion.
TextQuery = tuple["np.ndarray", float]


def hit_json(hit: SearchHit) -> dict:
    """A search hit as the API sends it: its motion id, every field of the hit, its duration."""
    # vars, not asdict: the fields are plain values, which asdict deep-copies (0.15 ms for 10 hits
    # against 0.006, in every search's answer).
    return {"id": motion_id(hit.path), **vars(hit), "duration": round(hit.duration, 3)}


class Answers:
    """The API's answers over one live library, reading its files with the server's options."""

    def __init__(self, library: LiveLibrary, options: LoadOptions, max_waiting_queries: int) -> None:
        self.library = library
        self.model = library.model
        self.options = options
        self.queries = QueryBatcher(self._encode_texts, max_waiting_queries)

    def close(self) -> None:
        """Stop the query encoder (after the queries that wait)."""
        self.queries.close()

    def info(self) -> dict:
        """What the library holds, as `tmr info --json`."""
        from tmrcli.library.info import library_info

        return asdict(library_info(self.library.store, self.model.sha256))

    def encode_text(self, text: str) -> Future[TextQuery]:
        """The embedding of a text query and how much it reads like a motion description, encoded with
        the others that wait (QueriesWaiting when too many do)."""
        return self.queries.submit(text)

    def _encode_texts(self, texts: Sequence[str]) -> list[TextQuery]:
        embeddings, likeness = self.model.encode_queries(texts)
        return [(embedding.copy(), float(like)) for embedding, like in zip(embeddings, likeness)]

    def search_text(self, text: str, query: TextQuery, k: int) -> dict:
        """The motions best matching `text`, whose embedding `encode_text` gave, with their confidence
        as `tmr search` gives it."""
        embedding, likeness = query
        return {"query": text, **self._search(embedding, k, bank=self._caption_bank[1], likeness=likeness)}

    def search_like(self, ident: str, k: int) -> dict:
        """The motions most like the library's motion `ident`, which is left out."""
        record = self._record(ident)
        return {"like": ident, **self._search(embed_whole(self.model, self._features(record)[1]), k, record.path)}

    def search_example(self, name: str, data: bytes, k: int) -> dict:
        """The motions most like an uploaded one (`name` says its format); 400 when it is not a motion."""
        return {"example": name, **self._search(embed_whole(self.model, _upload_features(name, data)), k)}

    def motion(self, ident: str, start: float, end: float | None) -> dict:
        """Metadata and the figure (projected joints of every frame) of a segment of motion `ident`."""
        from tmrcli.library.motion_segment import load_segment
        from tmrcli.views.scene import build_scene

        record = self._record(ident)
        with _library_file(record):
            segment = load_segment(Path(record.path), start, end, self.options)
        figure = figure_data(build_scene(segment))
        return {**_record_json(ident, record), "start": round(segment.start, 3), "end": round(segment.end, 3), "figure": figure}

    def localize(self, ident: str, text: str, top: int) -> dict:
        """Where `text` happens in motion `ident`, as `tmr localize --json`."""
        from tmrcli.library.localize import localize

        record = self._record(ident)
        motion, features = self._features(record)
        found = localize(self.model, features, motion.duration, text, top)
        return {**_record_json(ident, record), "query": text, **asdict(found)}

    def caption(self, ident: str, k: int) -> dict:
        """The k sentences of the model's bank that best describe motion `ident`, as `tmr caption --json`."""
        from tmrcli.library.caption import caption_motion

        record = self._record(ident)
        bank, embeddings = self._caption_bank
        captions = caption_motion(embed_whole(self.model, self._features(record)[1]), bank, embeddings, k)
        return {**_record_json(ident, record), "captions": [asdict(c) for c in captions]}

    def export(self, ident: str, start: float, end: float | None) -> tuple[bytes, str]:
        """The segment as BVH, as `tmr export` writes it, and the file name to download it as."""
        from tmrcli.library.export import segment_bvh

        record = self._record(ident)
        with _library_file(record):
            bvh = segment_bvh(Path(record.path), start, end, self.options)
        return bvh.data, f"{Path(record.path).stem}_{bvh.start:.1f}-{bvh.end:.1f}.bvh"

    @cached_property
    def _caption_bank(self) -> tuple[list[str], np.ndarray]:
        """The model's own sentences and their embeddings, computed (or read from the cache) once."""
        from model.bank import default_text_bank
        from tmrcli.library.caption import bank_embeddings

        bank = default_text_bank()
        return bank, bank_embeddings(self.model, bank, self.library.cache)

    def _record(self, ident: str) -> FileRecord:
        with self.library.view() as view:
            record = view.files.get(ident)
        if record is None:
            raise ApiError(404, f"no motion with id {ident!r} in the library")
        return record

    def _features(self, record: FileRecord) -> tuple:
        with _library_file(record):
            motion, features, _ = read_features(Path(record.path), self.options)
        return motion, features

    def _search(
        self, query: np.ndarray, k: int, exclude: str | None = None, *, bank: np.ndarray | None = None, likeness: float = 1.0
    ) -> dict:
        with self.library.view() as view:
            hits = view.search(query, k, self.model.sha256, exclude, bank=bank, likeness=likeness)
        return {"k": k, "hits": [hit_json(hit) for hit in hits]}


def _record_json(ident: str, record: FileRecord) -> dict:
    return {
        "id": ident,
        "path": record.path,
        "content_sha256": record.content_sha256,
        "duration": round(record.duration, 3),  # stored as float32
        "frames": record.frames,
        "fps": round(record.fps, 3),
    }


@contextmanager
def _library_file(record: FileRecord) -> Iterator[None]:
    """Turns a failure to read a library file into 422 (400 for a segment outside the motion)."""
    try:
        yield
    except SegmentError as error:
        raise ApiError(400, error.reason) from None
    except StoreError:
        raise
    except TmrError as error:
        raise ApiError(422, f"{record.path}: {error.reason}") from None


def _upload_features(name: str, data: bytes) -> np.ndarray:
    """The features of an uploaded motion, read from a private temporary copy; 400 with the reason
    (never the temporary path) when it is not a motion."""
    with tempfile.TemporaryDirectory(prefix="tmr-upload-") as folder:
        copy = Path(folder) / f"upload{Path(name).suffix.lower()}"
        copy.write_bytes(data)
        try:
            _, features, _ = read_features(copy, LoadOptions())
        except TmrError as error:
            raise ApiError(400, f"{name}: {error.reason}") from None
    return features
