"""adb-shell plumbing for the direct adb transport: the device banner's features, a TCP link
that notices EOF and sends whole packets, and file objects with a deadline."""

from __future__ import annotations

import errno
import time
from io import BytesIO
from typing import IO, Any


def parse_features(banner: bytes) -> frozenset[str]:
    """The ``features=`` of a device CNXN banner (``device::k=v;k=v;features=a,b``)."""
    props = banner.decode("utf-8", "replace").rstrip("\0").partition("::")[2]
    for item in props.split(";"):
        key, _, value = item.partition("=")
        if key == "features":
            return frozenset(f for f in value.split(",") if f)
    return frozenset()


class _Expired(Exception):
    """Internal: the deadline passed; ``partial`` holds what was read (for the pid)."""

    def __init__(self, partial: bytes = b"") -> None:
        super().__init__("deadline passed")
        self.partial = partial


class _StaleLink(Exception):
    """Internal: the cached connection failed before the service was opened (safe to retry)."""


class _DeadlineFile(BytesIO):
    """A real file behind a BytesIO (what adb-shell's push and pull accept), with a deadline."""

    def __init__(self, fh: IO[bytes], deadline: float) -> None:
        super().__init__()
        self._fh, self._deadline, self.started = fh, deadline, False

    def _tick(self) -> None:
        if time.monotonic() > self._deadline:
            raise _Expired
        self.started = True

    def read(self, size: int | None = -1) -> bytes:
        self._tick()
        return self._fh.read(size)

    def write(self, data: Any) -> int:
        self._tick()
        return self._fh.write(data)


def _tcp_transport(host: str, port: int) -> Any:
    """adb-shell's TcpTransport, fixed to notice EOF and to send whole packets."""
    from adb_shell.transport.tcp_transport import TcpTransport

    class _Tcp(TcpTransport):  # type: ignore[misc]
        def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
            data = super().bulk_read(numbytes, transport_timeout_s)
            if numbytes and not data:
                raise ConnectionResetError(errno.ECONNRESET, "connection closed by the device")
            return data

        def bulk_write(self, data: bytes, transport_timeout_s: float | None) -> int:
            view, sent = memoryview(data), 0
            while sent < len(view):
                sent += super().bulk_write(view[sent:], transport_timeout_s)
            return sent

    return _Tcp(host, port)
