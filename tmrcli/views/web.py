"""`tmr serve`'s web face: the search page and the JSON API, one Starlette app around one live library.

Starlette (on uvicorn) is the ASGI toolkit FastAPI is built on: routing, requests, JSON responses and
multipart parsing, maintained and small, and nothing here needs FastAPI's schema layer. Every answer
of the API is JSON; a failure is `{"error": "..."}` with its status (400 a bad request or upload, 404
an unknown motion id, 422 a library file that can no longer be read, 503 no usable library). Work
(the model, HDF5, reading files) runs in worker threads, so the event loop keeps answering.

Motions are addressed by id (`tmrcli.library.live.motion_id`); a path never comes from a request.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from formats.errors import SegmentError, TmrError
from formats.motion import MOTION_SUFFIXES
from formats.reading import LoadOptions, read_features
from tmrcli.library.embedding import embed_whole
from tmrcli.library.errors import StoreError
from tmrcli.library.export import segment_bvh
from tmrcli.library.info import library_info
from tmrcli.library.live import LiveLibrary, motion_id
from tmrcli.library.results import SearchHit
from tmrcli.library.storefile import FileRecord
from tmrcli.views.html_page import drawing_data, figure_data, read_asset, script_json

if TYPE_CHECKING:
    import numpy as np

__all__ = ["create_app", "MAX_UPLOAD_BYTES", "MAX_K"]

MAX_UPLOAD_BYTES = 32 << 20  # a long BVH take is a few MiB; more than this is not a motion for a query
MAX_K = 100
MAX_QUERY_CHARS = 1000
_ASSETS = {"player.js": "text/javascript", "player.css": "text/css", "serve.js": "text/javascript"}
# The page may talk to this server only: no other origin, no inline script, no plug-ins, no framing.
_PAGE_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
_T = TypeVar("_T")


class ApiError(Exception):
    """A request that cannot be answered: `status` and the one-line reason sent as {"error": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Service:
    """What the endpoints share: the live library, how to read its files, the caption bank."""

    def __init__(self, library: LiveLibrary, options: LoadOptions, max_upload: int) -> None:
        self.library = library
        self.model = library.model
        self.options = options
        self.max_upload = max_upload

    @cached_property
    def caption_bank(self) -> tuple[list[str], np.ndarray]:
        """The model's own sentences and their embeddings, computed (or read from the cache) once."""
        from model.bank import default_text_bank
        from tmrcli.library.caption import bank_embeddings

        bank = default_text_bank()
        return bank, bank_embeddings(self.model, bank)

    def record(self, ident: str) -> FileRecord:
        """The library's file with this id; 404 when the library holds none."""
        with self.library.view() as view:
            record = view.files.get(ident)
        if record is None:
            raise ApiError(404, f"no motion with id {ident!r} in the library")
        return record

    def search(self, query: np.ndarray, k: int, exclude: str | None = None) -> dict:
        with self.library.view() as view:
            hits = view.search(query, k, self.model.sha256, exclude)
        return {"k": k, "hits": [hit_json(hit) for hit in hits]}

    def read(self, record: FileRecord) -> tuple[Any, np.ndarray]:
        """The motion and features of a library file; 422 with the reason when it cannot be read."""
        with _library_file(record):
            motion, features, _ = read_features(Path(record.path), self.options)
        return motion, features


def hit_json(hit: SearchHit) -> dict:
    """A search hit as the API sends it: its motion id, every field of the hit, its duration."""
    return {"id": motion_id(hit.path), **asdict(hit), "duration": round(hit.duration, 3)}


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


# ---- parameters ----------------------------------------------------------------------------------


def _text(request: Request, name: str) -> str:
    text = request.query_params.get(name, "").strip()
    if not text:
        raise ApiError(400, f"give the text to look for as ?{name}=...")
    if len(text) > MAX_QUERY_CHARS:
        raise ApiError(400, f"{name} is longer than {MAX_QUERY_CHARS} characters")
    return text


def _count(request: Request, name: str, default: int, most: int = MAX_K) -> int:
    given = request.query_params.get(name)
    if given is None:
        return default
    try:
        value = int(given)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise ApiError(400, f"{name} must be a whole number from 1 to {most}, got {given!r}")
    return value


def _seconds(request: Request, name: str, default: float | None) -> float | None:
    given = request.query_params.get(name)
    if given is None or given == "":
        return default
    try:
        value = float(given)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ApiError(400, f"{name} must be 0 or more seconds, got {given!r}")
    return value


def _segment(request: Request) -> tuple[float, float | None]:
    start, end = _seconds(request, "start", 0.0), _seconds(request, "end", None)
    assert start is not None
    if end is not None and not end > start:
        raise ApiError(400, f"end must be after start ({start:g} s), got {end:g}")
    return start, end


# ---- endpoints -----------------------------------------------------------------------------------


def create_app(library: LiveLibrary, options: LoadOptions = LoadOptions(), *, max_upload: int = MAX_UPLOAD_BYTES) -> Starlette:
    """The app: GET / (the page), /assets/..., and the API under /api (see the README)."""
    service = _Service(library, options, max_upload)

    async def work(function: Callable[..., _T], *args: Any) -> _T:
        return await run_in_threadpool(function, *args)

    async def page(request: Request) -> Response:
        text = read_asset("serve.html").replace("__TMR_DRAWING__", script_json(drawing_data()))
        return HTMLResponse(text, headers={"Content-Security-Policy": _PAGE_POLICY, "Cache-Control": "no-cache"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            raise ApiError(404, f"no asset {name!r}")
        return Response(read_asset(name), media_type=_ASSETS[name], headers={"Cache-Control": "no-cache"})

    async def info(request: Request) -> Response:
        found = await work(library_info, library.store, service.model.sha256)
        return JSONResponse({**asdict(found), "max_upload_bytes": max_upload, "max_k": MAX_K})

    async def search(request: Request) -> Response:
        k = _count(request, "k", 10)
        like = request.query_params.get("like")
        if like is not None:
            record = await work(service.record, like)

            def like_this() -> dict:
                _, features = service.read(record)
                return {"like": like, **service.search(embed_whole(service.model, features), k, record.path)}

            return JSONResponse(await work(like_this))
        text = _text(request, "q")

        def by_text() -> dict:
            return {"query": text, **service.search(service.model.encode_texts([text])[0], k)}

        return JSONResponse(await work(by_text))

    async def search_by_upload(request: Request) -> Response:
        k = _count(request, "k", 10)
        name, data = await _upload(request, max_upload)

        def by_example() -> dict:
            features = _upload_features(name, data)
            return {"example": name, **service.search(embed_whole(service.model, features), k)}

        return JSONResponse(await work(by_example))

    async def motion(request: Request) -> Response:
        ident = request.path_params["ident"]
        start, end = _segment(request)

        def drawn() -> dict:
            from tmrcli.library.motion_segment import load_segment
            from tmrcli.views.scene import build_scene

            record = service.record(ident)
            with _library_file(record):
                segment = load_segment(Path(record.path), start, end, service.options)
            return {
                **_record_json(ident, record),
                "start": round(segment.start, 3),
                "end": round(segment.end, 3),
                "figure": figure_data(build_scene(segment)),
            }

        return JSONResponse(await work(drawn))

    async def localize(request: Request) -> Response:
        ident, text, top = request.path_params["ident"], _text(request, "q"), _count(request, "top", 3, 20)

        def found() -> dict:
            from tmrcli.library.localize import localize as localize_text

            record = service.record(ident)
            motion, features = service.read(record)
            result = localize_text(service.model, features, motion.duration, text, top)
            return {**_record_json(ident, record), "query": text, **asdict(result)}

        return JSONResponse(await work(found))

    async def caption(request: Request) -> Response:
        ident, k = request.path_params["ident"], _count(request, "k", 5)

        def described() -> dict:
            from tmrcli.library.caption import caption_motion

            record = service.record(ident)
            _, features = service.read(record)
            bank, embeddings = service.caption_bank
            captions = caption_motion(embed_whole(service.model, features), bank, embeddings, k)
            return {**_record_json(ident, record), "captions": [asdict(c) for c in captions]}

        return JSONResponse(await work(described))

    async def export(request: Request) -> Response:
        ident = request.path_params["ident"]
        start, end = _segment(request)

        def exported() -> tuple[bytes, str]:
            record = service.record(ident)
            with _library_file(record):
                bvh = segment_bvh(Path(record.path), start, end, service.options)
            return bvh.data, f"{Path(record.path).stem}_{bvh.start:.1f}-{bvh.end:.1f}.bvh"

        data, name = await work(exported)
        return Response(data, media_type="application/octet-stream", headers={"Content-Disposition": _attachment(name)})

    routes = [
        Route("/", page),
        Route("/assets/{name}", asset),
        Route("/api/info", info),
        Route("/api/search", search, methods=["GET"]),
        Route("/api/search", search_by_upload, methods=["POST"]),
        Route("/api/motions/{ident}", motion),
        Route("/api/motions/{ident}/localize", localize),
        Route("/api/motions/{ident}/caption", caption),
        Route("/api/motions/{ident}/export.bvh", export),
    ]
    handlers = {ApiError: _api_error, StoreError: _store_error, HTTPException: _http_error, Exception: _server_error}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]


# ---- uploads -------------------------------------------------------------------------------------


async def _upload(request: Request, limit: int) -> tuple[str, bytes]:
    """The motion file of a POST: a multipart form's field "motion", else the raw body named by
    ?name=FILE. Read up to `limit` bytes, never more: a larger upload is refused as it arrives."""
    too_large = ApiError(400, f"the upload is larger than the limit of {limit / (1 << 20):g} MiB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        received = bytes(body)

        async def replay() -> dict:
            return {"type": "http.request", "body": received, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
        upload = form.get("motion")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, 'send the motion file as the form field "motion" (curl -F motion=@take.bvh)')
        name, data = upload.filename or "upload", await upload.read()
        await form.close()
    else:
        name, data = request.query_params.get("name", ""), bytes(body)
        if not name:
            raise ApiError(400, "name the uploaded file with ?name=FILE.bvh (or send a form field \"motion\")")
    if Path(name).suffix.lower() not in MOTION_SUFFIXES:
        raise ApiError(400, f"{name}: not a motion file ({', '.join(MOTION_SUFFIXES)})")
    if not data:
        raise ApiError(400, f"{name}: the upload is empty")
    return name, data


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


def _attachment(name: str) -> str:
    """A Content-Disposition naming the download: ASCII fallback plus the exact name (RFC 6266)."""
    from urllib.parse import quote

    plain = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"


# ---- errors --------------------------------------------------------------------------------------


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse({"error": error.message}, status_code=error.status)


async def _store_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StoreError)
    message = f"{error.path}: {error.reason}" + (f" ({error.hint})" if error.hint else "")
    return JSONResponse({"error": message}, status_code=503)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)


async def _server_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500)
