"""Drive Debian's headless Chromium through the DevTools protocol, stdlib only.

A minimal RFC 6455 WebSocket client (masked client frames, fragmented and extended-length
server frames) is enough for CDP. :func:`inspect_page` loads a page, collects uncaught
exceptions and console/log errors, evaluates a probe script, and takes screenshots.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

CHROMIUM = "/usr/bin/chromium"


class WebSocket:
    """Just enough of a WebSocket client for the DevTools protocol."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        if not m:
            raise ValueError(f"not a ws:// url: {url}")
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise ConnectionError(f"websocket handshake failed: {status[:200]!r}")
        self.buf = rest

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += struct.pack(">H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack(">Q", n)
        mask = os.urandom(4)
        header += mask
        self.sock.sendall(bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode in (0x9, 0xA):   # ping / pong: ignore
                continue
            parts.append(data)
            if fin:
                return b"".join(parts).decode()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass
class PageReport:
    """What the browser saw."""

    errors: list[str] = field(default_factory=list)
    probe: Any = None
    screenshots: list[Path] = field(default_factory=list)


class Browser:
    """A headless Chromium with a DevTools endpoint; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 2000) -> None:
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="edgekit-chromium-")
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
                f"--window-size={width},{height}", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port = self._port()
        self.ws: Optional[WebSocket] = None
        self._id = 0
        self.events: list[dict] = []

    def _port(self) -> int:
        deadline = time.time() + 30
        assert self.proc.stderr is not None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                return int(m.group(1))
        raise RuntimeError("chromium did not announce its DevTools port in 30 s")

    def __enter__(self) -> "Browser":
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10).read())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.ws:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method: str, timeout: float = 60.0, **params: Any) -> dict:
        assert self.ws is not None
        self._id += 1
        my = self._id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)
        raise TimeoutError(method)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        assert self.ws is not None
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return msg
            self.events.append(msg)
        raise TimeoutError(method)

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and log errors seen so far."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + json.dumps(p.get("args", []))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", "")[:500])
        return out


def inspect_page(url: str, probe_js: str, screenshot_dir: Path, name: str = "report",
                 width: int = 1280, height: int = 2000) -> PageReport:
    """Load ``url``; return errors, the probe's value and screenshots (top viewport + full page)."""
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    rep = PageReport()
    with Browser(width, height) as b:
        for domain in ("Page", "Runtime", "Log"):
            b.call(f"{domain}.enable")
        b.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        b.call("Page.navigate", url=url)
        b.wait_event("Page.loadEventFired", timeout=60)
        res = b.call("Runtime.evaluate", expression=probe_js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            rep.errors.append("probe failed: " + json.dumps(res["exceptionDetails"])[:500])
        rep.probe = res.get("result", {}).get("value")
        top = screenshot_dir / f"{name}.png"
        top.write_bytes(base64.b64decode(b.call("Page.captureScreenshot", format="png")["data"]))
        rep.screenshots.append(top)
        metrics = b.call("Page.getLayoutMetrics")
        full_h = int(min(metrics.get("cssContentSize", metrics.get("contentSize", {})).get("height", height), 16000))
        b.call("Emulation.setDeviceMetricsOverride", width=width, height=full_h, deviceScaleFactor=1, mobile=False)
        full = screenshot_dir / f"{name}_full.png"
        full.write_bytes(base64.b64decode(b.call("Page.captureScreenshot", format="png")["data"]))
        rep.screenshots.append(full)
        time.sleep(0.2)
        b.call("Runtime.evaluate", expression="1")  # drain late events
        rep.errors += b.errors()
    return rep
