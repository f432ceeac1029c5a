"""A small driver for headless Chromium over the DevTools protocol, for the tests of the HTML view.

No selenium, no browser download: Debian's ``chromium``, started with ``--remote-debugging-pipe``, reads
protocol commands (JSON, each ended by a NUL byte) from its file descriptor 3 and writes replies and
events to descriptor 4. :class:`Chromium` opens one page, records every script error, console
error and log error of it, evaluates expressions in it and clicks at positions as a mouse does.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any

__all__ = ["Chromium", "chromium_binary"]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser with one page (use as a context manager)."""

    def __init__(self, binary: str, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="fcdata-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def on_descriptors_3_and_4() -> None:  # in the child, before exec: where Chromium expects the pipe
            a, b = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._log = open(os.environ.get("FCDATA_CHROMIUM_LOG", os.devnull), "wb")  # Chromium's own stderr
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=on_descriptors_3_and_4,
            close_fds=False,  # the dup2'd 3 and 4 must stay; Python's own descriptors close on exec anyway
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = self._open_page()

    # ------------------------------------------------------------------------------- the protocol

    def _send(self, method: str, params: dict[str, Any] | None, session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = "page") -> dict[str, Any]:
        """Send one command (to the page's session unless ``session=None``: the browser) and return its
        result; events that arrive meanwhile are kept in :attr:`events`."""
        sid = self.session if session == "page" else session
        wanted = self._send(method, params, sid)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str) -> dict[str, Any]:
        for message in self.events:
            if message.get("method") == event:
                self.events.remove(message)
                return message
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("method") == event:
                return message
            if "method" in message:
                self.events.append(message)

    def _open_page(self) -> str:
        targets = self.call("Target.getTargets", session=None)["targetInfos"]
        page = next((t for t in targets if t["type"] == "page"), None)
        target_id = page["targetId"] if page else self.call("Target.createTarget", {"url": "about:blank"}, session=None)["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True}, session=None)["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(domain, session=session)
        return session

    # ---------------------------------------------------------------------------------- the page

    def load(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A left click at the middle of the first element matching ``selector``, as a mouse gives it."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center', behavior: 'instant'}});"
            " const r = e.getClientRects()[0]; return [r.x + Math.min(r.width / 2, 20), r.y + r.height / 2]; })()"
        )
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]})
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def errors(self) -> list[dict[str, Any]]:
        """Script exceptions, console errors and error log entries seen so far."""
        self.call("Runtime.evaluate", {"expression": "0"})  # collect what is pending
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(e)
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(e)
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(e)
        return found

    def close(self) -> None:
        try:
            self.call("Browser.close", session=None)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
