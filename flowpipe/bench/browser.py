"""Headless Chromium driven over the DevTools protocol on a pipe (no extra package).

`chromium --remote-debugging-pipe` reads JSON commands from its fd 3 and writes replies and
events to its fd 4, each message ended by a NUL byte. Enough of the protocol to open a page,
wait for it, click, press keys, run a script and take a screenshot; the report benchmark
(`flowpipe bench report`) and the browser tests use it.

    with Browser(chromium_path()) as browser:
        browser.open("http://127.0.0.1:8000/")
        browser.wait_for("document.body.dataset.status === 'ok'")
        png = browser.screenshot()
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any

TIMEOUT_S = 60.0


def chromium_path() -> str | None:
    """The Chromium executable on PATH (Debian's `chromium`), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page (a tab) attached; a context manager."""

    def __init__(self, executable: str, width: int = 1400, height: int = 1000) -> None:
        self.size = (width, height)
        self._profile = tempfile.TemporaryDirectory(prefix="flowpipe-chromium-")
        self._stderr = tempfile.TemporaryFile()
        to_browser, self._write_fd = os.pipe()
        self._read_fd, from_browser = os.pipe()

        def pipes_as_3_and_4() -> None:
            # In the child, before exec: dup2 makes 3 and 4 inheritable; every other fd of
            # ours is close-on-exec (os.pipe's are), so close_fds can stay off.
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            close_fds=False,
            preexec_fn=pipes_as_3_and_4,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._replies: dict[int, dict] = {}
        self._inbox: queue.Queue[dict] = queue.Queue()
        self.events: list[dict] = []
        self._next_id = 0
        threading.Thread(target=self._read_messages, daemon=True).start()
        self.session = self._attach()

    def _read_messages(self) -> None:
        """Reader thread: split the browser's output on NUL into JSON messages."""
        buffer = b""
        while chunk := os.read(self._read_fd, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._inbox.put(json.loads(message))
        self._inbox.put({"closed": True})

    def call(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        """Send one command (to the page's session unless `session` is False); its result.
        RuntimeError for a protocol error, TimeoutError after TIMEOUT_S."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        reply = self._wait_reply(self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def _wait_reply(self, wanted: int) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                message = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no reply from Chromium in {TIMEOUT_S:.0f} s") from None
            if message.get("closed"):
                raise RuntimeError("Chromium closed its pipe: " + self.stderr_tail())
            if message.get("id") == wanted:
                return message
            if "method" in message:
                self.events.append(message)

    def _attach(self) -> str:
        """Open a page target and attach to it; the session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, False
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        width, height = self.size
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return self.session

    def open(self, url: str) -> None:
        """Navigate the page to url (returns once the navigation is committed)."""
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"{expression}: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT_S) -> float:
        """Poll until expression is truthy in the page; the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if self.evaluate(expression):
                    return time.monotonic() - start
            except RuntimeError:  # the page is between documents
                pass
            time.sleep(0.02)
        raise TimeoutError(f"{expression!r} still false after {timeout:.0f} s")

    def click(self, selector: str) -> None:
        """A real mouse click (press + release) at the centre of the element selector names
        (of its first line box, for a link that wraps)."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getClientRects()[0] || e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise RuntimeError(f"no element {selector!r} on the page")
        x, y = box
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            event = {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
            self.call("Input.dispatchMouseEvent", event)

    def press(self, key: str, key_code: int) -> None:
        """Press and release a key (e.g. 'ArrowRight', 39) as a user would."""
        for kind in ("keyDown", "keyUp"):
            event = {
                "type": kind,
                "key": key,
                "code": key,
                "windowsVirtualKeyCode": key_code,
                "nativeVirtualKeyCode": key_code,
            }
            self.call("Input.dispatchKeyEvent", event)

    def screenshot(self) -> bytes:
        """PNG of the viewport."""
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])

    def problems(self) -> list[str]:
        """Console messages, uncaught exceptions and error/warning log entries seen so far."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled":
                texts = [str(a.get("value", a.get("description"))) for a in params.get("args", [])]
                found.append(f"console.{params.get('type')}: {' '.join(texts)}")
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                exception = details.get("exception", {}).get("description")
                found.append(f"exception: {exception or details.get('text')}")
            elif event["method"] == "Log.entryAdded":
                entry = params.get("entry", {})
                if entry.get("level") in ("error", "warning"):
                    found.append(
                        f"log {entry.get('level')}: {entry.get('text')} {entry.get('url')}"
                    )
        return found

    def stderr_tail(self) -> str:
        """The last lines Chromium wrote to stderr."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        """Close the browser and its profile."""
        try:
            self.call("Browser.close", session=False)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write_fd)
        os.close(self._read_fd)
        self._stderr.close()
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
