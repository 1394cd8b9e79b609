"""Open a page in headless Chromium and report what a person would see: errors, requests, drawn canvases.

Chromium is driven through the DevTools protocol over a pipe (`--remote-debugging-pipe`: commands on
file descriptor 3, replies and events on 4, each a JSON message ending in a NUL byte), so the check
needs no Python package beyond the standard library and sees every error the browser reports:
uncaught exceptions, console.error calls and browser log entries (a blocked request, a CSP violation).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CanvasInk", "PageReport", "StepReport", "find_chromium", "inspect_page", "page_problems"]

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)
# Counted in the page: opaque pixels that are strongly coloured (the blue and red limbs) and dark ones
# (the spine, the curve). The grey floor grid and trajectory are neither, so they alone count as empty.
_INK_SCRIPT = """
Array.from(document.querySelectorAll("canvas")).filter((c) => c.offsetParent !== null).map((c) => {
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let coloured = 0, dark = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 128) continue;
    const high = Math.max(d[i], d[i + 1], d[i + 2]), low = Math.min(d[i], d[i + 1], d[i + 2]);
    if (high - low > 80) coloured++;
    else if (high < 90) dark++;
  }
  return {id: c.id || (c.closest("article") ? "hit" : "canvas"), coloured, dark};
})
"""


@dataclass(frozen=True)
class CanvasInk:
    """One visible canvas: its id ("hit" for a result's figure) and how many pixels were drawn."""

    id: str
    coloured: int
    dark: int


@dataclass(frozen=True)
class PageReport:
    errors: list[str]  # exceptions, console errors and browser log errors, in the order they came
    requests: list[str]  # every URL the page asked for besides itself
    canvases: list[CanvasInk]  # at the end
    screenshot: bytes  # PNG of the viewport, at the end
    steps: list[StepReport] = field(default_factory=list)


@dataclass(frozen=True)
class StepReport:
    """What one step of `inspect_page` returned (its expression's value) and the canvases after it."""

    value: object
    canvases: list[CanvasInk]


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def page_problems(
    report: PageReport, figures: int, has_curve: bool = False, *, origin: str | None = None, canvases: list[CanvasInk] | None = None
) -> list[str]:
    """What is wrong with a results page that should show `figures` animated hits (plus the localize
    figure and curve when `has_curve`): an empty list means it loaded and drew cleanly. Requests to
    `origin` (a served page's own server) are allowed; `canvases` checks a step's instead of the end's."""
    problems = [f"error: {error}" for error in report.errors]
    problems += [f"network request: {url}" for url in report.requests if origin is None or not url.startswith(origin)]
    canvases = report.canvases if canvases is None else canvases
    hits = [canvas for canvas in canvases if canvas.id == "hit"]
    if len(hits) != figures:
        problems.append(f"{len(hits)} hit canvases, expected {figures}")
    expected = hits + [canvas for canvas in canvases if canvas.id == "curve-figure"]
    problems += [f"canvas {canvas.id} drew no figure" for canvas in expected if canvas.coloured < 200]
    if has_curve:
        plots = [canvas for canvas in canvases if canvas.id == "curve-plot"]
        if not plots or plots[0].dark < 200:
            problems.append("the similarity curve was not drawn")
    return problems


def inspect_page(
    page: Path | str,
    *,
    settle: float = 1.0,
    steps: Sequence[tuple[str, float]] = (),
    width: int = 1280,
    height: int = 860,
) -> PageReport:
    """Load `page` (a file, or an http:// URL) in headless Chromium, let it run `settle` seconds, then
    run each step (a JavaScript expression, and the seconds to let the page run after it), and report."""
    executable = find_chromium()
    if executable is None:
        raise FileNotFoundError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="tmr-chromium-") as profile, _DevTools(executable, profile) as tools:
        target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            tools.call(f"{domain}.enable", session=session)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        tools.call("Emulation.setDeviceMetricsOverride", metrics, session=session)
        url = page if isinstance(page, str) else Path(page).resolve().as_uri()
        since = len(tools.events)
        tools.call("Page.navigate", {"url": url}, session=session)
        tools.wait_for("Page.loadEventFired", since=since, timeout=30)
        tools.pump(settle)
        done = []
        for expression, seconds in steps:
            value = tools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=session)
            tools.pump(seconds)
            done.append(StepReport(value["result"].get("value"), _ink(tools, session)))
        canvases = _ink(tools, session)
        shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session)
        tools.pump(0.1)
    requests = [event["request"]["url"] for event in tools.events_named("Network.requestWillBeSent")]
    return PageReport(
        errors=_errors(tools.events),
        requests=[request for request in requests if request != url],
        canvases=canvases,
        screenshot=base64.b64decode(shot["data"]),
        steps=done,
    )


def _ink(tools: _DevTools, session: str) -> list[CanvasInk]:
    ink = tools.call("Runtime.evaluate", {"expression": _INK_SCRIPT, "returnByValue": True}, session=session)
    return [CanvasInk(**item) for item in ink["result"].get("value", [])]


def _errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(params["entry"].get("text", "log error"))
    return errors


class _DevTools:
    """A Chromium process and its DevTools pipe: `call` sends a command and waits for its reply,
    keeping every event that arrives meanwhile in `events`."""

    def __init__(self, executable: str, profile: str) -> None:
        self._executable, self._profile = executable, profile
        self.events: list[dict] = []
        self._next_id = 0
        self._buffer = b""

    def __enter__(self) -> _DevTools:
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()

        def wire_pipe() -> None:  # in the child: the protocol's fixed descriptors 3 and 4
            read_end = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        command = [self._executable, *_FLAGS, f"--user-data-dir={self._profile}", "about:blank"]
        self._process = subprocess.Popen(
            command, preexec_fn=wire_pipe, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(to_browser)
        os.close(from_browser)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._send("Browser.close", {}, None)
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        os.close(self._commands)
        os.close(self._replies)

    def call(self, method: str, params: dict | None = None, *, session: str | None = None, timeout: float = 30) -> dict:
        ident = self._send(method, params or {}, session)
        deadline = time.monotonic() + timeout
        while True:
            for message in self._read(deadline):
                if message.get("id") == ident:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return message["result"]
                self.events.append(message)

    def wait_for(self, method: str, *, since: int, timeout: float) -> None:
        """Read until an event `method` has arrived after the first `since` events."""
        deadline = time.monotonic() + timeout
        while not any(event.get("method") == method for event in self.events[since:]):
            self.events.extend(self._read(deadline))

    def pump(self, seconds: float) -> None:
        """Collect events for `seconds` while the page runs."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.events.extend(self._read(deadline, raise_on_timeout=False))

    def events_named(self, method: str) -> list[dict]:
        return [event.get("params", {}) for event in self.events if event.get("method") == method]

    def _send(self, method: str, params: dict, session: str | None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float, raise_on_timeout: bool = True) -> list[dict]:
        """The messages that arrive before `deadline` (at least one, unless it passes)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._replies, selectors.EVENT_READ)
            while b"\0" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    if raise_on_timeout:
                        raise TimeoutError("Chromium did not answer in time")
                    return []
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise ConnectionError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        return [json.loads(message) for message in messages]
