"""What a `tmr serve` request asks, checked: its parameters and its uploaded motion file. A request
that cannot be answered raises `ApiError`, which the app sends as {"error": ...} with its status."""

from __future__ import annotations

import math
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request

from formats.motion import MOTION_SUFFIXES

__all__ = ["ApiError", "MAX_K", "MAX_QUERY_CHARS", "text_param", "count_param", "segment_params", "read_upload"]

MAX_K = 100
MAX_QUERY_CHARS = 1000


class ApiError(Exception):
    """A request that cannot be answered: `status` and the one-line reason sent as {"error": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def text_param(request: Request, name: str) -> str:
    """The non-empty text `?name=...`, at most MAX_QUERY_CHARS characters."""
    text = request.query_params.get(name, "").strip()
    if not text:
        raise ApiError(400, f"give the text to look for as ?{name}=...")
    if len(text) > MAX_QUERY_CHARS:
        raise ApiError(400, f"{name} is longer than {MAX_QUERY_CHARS} characters")
    return text


def count_param(request: Request, name: str, default: int, most: int = MAX_K) -> int:
    """The whole number `?name=N` from 1 to `most`, `default` when absent."""
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


def segment_params(request: Request) -> tuple[float, float | None]:
    """`?start=S&end=S` in seconds: start 0 or more (default 0), end after it (default: the end)."""
    start, end = _seconds(request, "start", 0.0), _seconds(request, "end", None)
    assert start is not None
    if end is not None and not end > start:
        raise ApiError(400, f"end must be after start ({start:g} s), got {end:g}")
    return start, end


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


async def read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    """The motion file of a POST (its name and bytes): a multipart form's field "motion", else the
    raw body named by ?name=FILE. Read up to `limit` bytes, never more: a larger upload is refused
    as it arrives."""
    body = await _capped_body(request, limit)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=1, max_fields=4)
        upload = form.get("motion")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, 'send the motion file as the form field "motion" (curl -F motion=@take.bvh)')
        name, data = upload.filename or "upload", await upload.read()
        await form.close()
    else:
        name, data = request.query_params.get("name", ""), body
        if not name:
            raise ApiError(400, 'name the uploaded file with ?name=FILE.bvh (or send a form field "motion")')
    if Path(name).suffix.lower() not in MOTION_SUFFIXES:
        raise ApiError(400, f"{name}: not a motion file ({', '.join(MOTION_SUFFIXES)})")
    if not data:
        raise ApiError(400, f"{name}: the upload is empty")
    return name, data


async def _capped_body(request: Request, limit: int) -> bytes:
    too_large = ApiError(400, f"the upload is larger than the limit of {limit / (1 << 20):g} MiB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)
