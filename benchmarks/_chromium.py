"""Headless Chromium driven over the DevTools protocol: open a page, screenshot it, close it.

Enough to check `edgemon serve` in a real browser (the dashboard renders, survives past the
terminal check, and closing the tab only detaches) and to keep screenshots of it and of the
report. Talks to 127.0.0.1 only; every wait is bounded. Needs ``chromium`` (or
``chromium-browser``, ``google-chrome``) on PATH and aiohttp (textual-serve brings it).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    return next((p for p in (shutil.which(b) for b in BROWSERS) if p), None)


class Chromium:
    """A headless browser with a throw-away profile; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 800, timeout: float = 60.0):
        exe = find_browser()
        if exe is None:
            raise RuntimeError("no chromium on PATH (apt-get install chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self._profile = tempfile.TemporaryDirectory(prefix="edgemon-chromium-")
        self._proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--disable-extensions", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)    # its helper processes too can be ended as one group
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])
        self._ids = itertools.count(1)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        # The whole group: a renderer or crash handler left behind still writes into the
        # profile while it is being removed ("Directory not empty").
        self._signal_group(signal.SIGTERM)
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._proc.wait()
        for _ in range(10):
            try:
                self._profile.cleanup()
                return
            except OSError:           # a helper still exiting: try again shortly
                self._signal_group(signal.SIGKILL)
                time.sleep(0.2)
        shutil.rmtree(self._profile.name, ignore_errors=True)

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self._proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    # ------------------------------------------------------------------ tabs

    def _http(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            body = r.read().decode()
        return json.loads(body) if body.strip().startswith(("{", "[")) else body

    def open(self, url: str) -> dict:
        """A new tab on ``url``: ``{"id", "webSocketDebuggerUrl", ...}``."""
        return self._http("/json/new?" + url, method="PUT")

    def close_tab(self, tab: dict) -> None:
        """Close the tab, as a user closing it would (the page's sockets close)."""
        self._http(f"/json/close/{tab['id']}")

    def tabs(self) -> list[dict]:
        return [t for t in self._http("/json/list") if t.get("type") == "page"]

    def _call(self, tab: dict, method: str, **params):
        async def go():
            import aiohttp

            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0,
                                              timeout=aiohttp.ClientWSTimeout(ws_close=self.timeout)) as ws:
                    ident = next(self._ids)
                    await ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
                    async for msg in ws:
                        data = json.loads(msg.data)
                        if data.get("id") == ident:
                            if "error" in data:
                                raise RuntimeError(f"{method}: {data['error']}")
                            return data.get("result", {})
            raise RuntimeError(f"{method}: the tab closed its DevTools socket")

        return asyncio.run(asyncio.wait_for(go(), self.timeout))

    def evaluate(self, tab: dict, expression: str):
        result = self._call(tab, "Runtime.evaluate", expression=expression, returnByValue=True)
        return (result.get("result") or {}).get("value")

    def screenshot(self, tab: dict, path: Path, *, full_page: bool = False) -> Path:
        """PNG of the tab (``full_page``: the whole document, not only the viewport)."""
        params: dict = {"format": "png"}
        if full_page:
            size = self._call(tab, "Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self._call(tab, "Page.captureScreenshot", **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
