"""`tmr serve`: the library in the browser, and a local HTTP API for tools, from one warm process."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from formats.errors import TmrError
from tmrcli.commands.options import LIBRARY_OPTIONS, MOTION_OPTIONS, ModelChoice, with_option_groups
from tmrcli.views.console import err, out

if TYPE_CHECKING:
    from formats.reading import LoadOptions
    from tmrcli.library.live import LiveLibrary

__all__ = ["serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8321


@with_option_groups
def serve(
    choice: ModelChoice = LIBRARY_OPTIONS,
    host: Annotated[
        str, typer.Option(help="Address to listen on. Anything but loopback lets other machines read your library.")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")] = DEFAULT_PORT,
    options: LoadOptions = MOTION_OPTIONS,
) -> None:
    """Serve the search page and a JSON API over the library; Ctrl-C stops.

    The model and the library are loaded once; a `tmr index` run beside it is seen at the next query.
    The library is only read, and only motions it holds are served. Prints the page's URL.

    Example: tmr serve --port 8321   (then open http://127.0.0.1:8321/)
    """
    import uvicorn

    from model.inference import torch_threads
    from model.threads import numpy_threads
    from tmrcli.library.live import LiveLibrary
    from tmrcli.views.web import create_app

    if not _is_loopback(host):
        err.print(
            f"warning: listening on {host}: anyone who can reach this machine can search and download your library",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    listener = _listen(host, port)  # first: a port in use is said before the model is loaded
    with listener:
        motions = choice.motion_store
        with err.status("loading the model"):
            library = LiveLibrary(motions, choice.load(), choice.cache())
        try:
            _announce(library)
            server = uvicorn.Server(uvicorn.Config(create_app(library, options), log_level="warning", access_log=False))
            out.print(_url(listener), markup=False)
            sys.stdout.flush()  # the URL is what a script waits for
            with torch_threads(1), numpy_threads(1), contextlib.suppress(KeyboardInterrupt):
                # One torch thread per query: concurrent queries use the cores side by side. numpy's
                # too: its BLAS threads spin after each product (a query's confidence, a search),
                # which doubled the server's CPU time per request. uvicorn shuts down cleanly on
                # Ctrl-C, then raises it again: it ends the command normally.
                server.run(sockets=[listener])
        finally:
            library.close()
    err.print("stopped", markup=False, highlight=False)


def _announce(library: LiveLibrary) -> None:
    """Say what is served; a library that exists but cannot be used (damaged, another checkpoint's)
    is an error now rather than at every query."""
    from tmrcli.library.errors import StoreError

    try:
        with library.view() as view:
            err.print(f"library {library.store.path}: {len(view.files)} motions", markup=False, highlight=False, soft_wrap=True)
    except StoreError:
        if library.store.exists():
            raise
        err.print(
            f"no library at {library.store.path} yet: it is served as soon as `tmr index` writes one",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before uvicorn starts, so a port in use is one line of error.

    It says it is IPPROTO_TCP: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on accepted
    sockets that say so, and `socket.create_server` leaves the protocol 0, which accepted sockets
    inherit. With Nagle on, uvicorn's answer, written as headers then body, waits for the client's
    delayed ACK before its body leaves: about 40 ms on every request of a kept-alive connection."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        bound = socket.create_server((host, port), family=family)
    except OSError as error:
        raise TmrError(None, f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=bound.detach())


def _url(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
