"""`tmr serve`'s web face: the search page and the JSON API, one Starlette app around one live library.

Starlette (on uvicorn) is the ASGI toolkit FastAPI is built on: routing, requests, JSON responses and
multipart parsing, maintained and small, and nothing here needs FastAPI's schema layer. Every answer
of the API is JSON; a failure is `{"error": "..."}` with its status (400 a bad request or upload, 404
an unknown motion id, 422 a library file that can no longer be read, 503 no usable library, or more
text queries waiting than one batch takes). The answers (`web_answers.py`) run in worker threads, so
the event loop keeps answering meanwhile; a text query waits for its embedding without holding one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from formats.reading import LoadOptions
from model.query_batcher import QueriesWaiting
from tmrcli.library.errors import StoreError
from tmrcli.library.live import LiveLibrary
from tmrcli.views.html_page import drawing_data, page_with_player_controls, read_asset, script_json
from tmrcli.views.web_answers import Answers
from tmrcli.views.web_requests import MAX_K, ApiError, count_param, read_upload, segment_params, text_param

__all__ = ["create_app", "MAX_UPLOAD_BYTES", "MAX_WAITING_QUERIES"]

MAX_UPLOAD_BYTES = 32 << 20  # a long BVH take is a few MiB; more than this is not a motion for a query
MAX_WAITING_QUERIES = 64  # one batch: a query never waits for more than the encode in progress and its own
_ASSETS = {"player.js": "text/javascript", "player.css": "text/css", "serve.js": "text/javascript"}
# The page may talk to this server only: no other origin, no inline script, no plug-ins, no framing.
_PAGE_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
_NO_CACHE = {"Cache-Control": "no-cache"}
_T = TypeVar("_T")


async def _work(function: Callable[..., _T], *args: Any) -> _T:
    return await run_in_threadpool(function, *args)


def create_app(
    library: LiveLibrary,
    options: LoadOptions = LoadOptions(),
    *,
    max_upload: int = MAX_UPLOAD_BYTES,
    max_waiting_queries: int = MAX_WAITING_QUERIES,
) -> Starlette:
    """The app: GET / (the page), /assets/..., and the API under /api (see the README). Text queries
    beyond `max_waiting_queries` waiting to be encoded are refused (503)."""
    answers = Answers(library, options, max_waiting_queries)

    async def info(request: Request) -> Response:
        return JSONResponse({**await _work(answers.info), "max_upload_bytes": max_upload, "max_k": MAX_K})

    async def search(request: Request) -> Response:
        k, like = count_param(request, "k", 10), request.query_params.get("like")
        if like is not None:
            return JSONResponse(await _work(answers.search_like, like, k))
        text = text_param(request, "q")
        query = await asyncio.wrap_future(answers.encode_text(text))
        return JSONResponse(await _work(answers.search_text, text, query, k))

    async def search_by_upload(request: Request) -> Response:
        k = count_param(request, "k", 10)
        name, data = await read_upload(request, max_upload)
        return JSONResponse(await _work(answers.search_example, name, data, k))

    async def motion(request: Request) -> Response:
        return JSONResponse(await _work(answers.motion, request.path_params["ident"], *segment_params(request)))

    async def localize(request: Request) -> Response:
        text, top = text_param(request, "q"), count_param(request, "top", 3, 20)
        return JSONResponse(await _work(answers.localize, request.path_params["ident"], text, top))

    async def caption(request: Request) -> Response:
        return JSONResponse(await _work(answers.caption, request.path_params["ident"], count_param(request, "k", 5)))

    async def export(request: Request) -> Response:
        data, name = await _work(answers.export, request.path_params["ident"], *segment_params(request))
        return Response(data, media_type="application/octet-stream", headers={"Content-Disposition": _attachment(name)})

    routes = [
        Route("/", _page),
        Route("/assets/{name}", _asset),
        Route("/api/info", info),
        Route("/api/search", search, methods=["GET"]),
        Route("/api/search", search_by_upload, methods=["POST"]),
        Route("/api/motions/{ident}", motion),
        Route("/api/motions/{ident}/localize", localize),
        Route("/api/motions/{ident}/caption", caption),
        Route("/api/motions/{ident}/export.bvh", export),
    ]
    handlers = {
        ApiError: _api_error, StoreError: _store_error, QueriesWaiting: _busy, HTTPException: _http_error,
        Exception: _server_error,
    }  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(answers.close)

    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]


async def _page(request: Request) -> Response:
    text = page_with_player_controls("serve.html").replace("__TMR_DRAWING__", script_json(drawing_data()))
    return HTMLResponse(text, headers={"Content-Security-Policy": _PAGE_POLICY, **_NO_CACHE})


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _ASSETS:
        raise ApiError(404, f"no asset {name!r}")
    return Response(read_asset(name), media_type=_ASSETS[name], headers=_NO_CACHE)


def _attachment(name: str) -> str:
    """A Content-Disposition naming the download: ASCII fallback plus the exact name (RFC 6266)."""
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse({"error": error.message}, status_code=error.status)


async def _store_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StoreError)
    message = f"{error.path}: {error.reason}" + (f" ({error.hint})" if error.hint else "")
    return JSONResponse({"error": message}, status_code=503)


async def _busy(request: Request, error: Exception) -> Response:
    assert isinstance(error, QueriesWaiting)
    message = f"busy: {error.waiting} queries are waiting to be encoded; try again"
    return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "1"})


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)


async def _server_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500)
