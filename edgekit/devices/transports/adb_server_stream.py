"""The line stream of :meth:`AdbServerTransport.open_stream`: one shell v2 service kept open.

Stdin goes out as shell v2 stdin packets, stdout and stderr come back as packets
(:class:`ShellV2Decoder`); closing sends the close-stdin packet and waits for the exit
packet; killing closes the service and kills the process group by the pid the command line
reported (:data:`PID_PREFIX`).
"""

from __future__ import annotations

import socket
import struct
import time
from typing import TYPE_CHECKING

from adbutils import AdbConnection

from edgekit.devices.transports.line_stream import WrappedLineStream
from edgekit.devices.transports.shell_protocol import CLOSE_STDIN, ShellV2Decoder, split_pid

if TYPE_CHECKING:
    from edgekit.devices.transports.adb_server import AdbServerTransport

__all__ = ["AdbServerLineStream"]


class AdbServerLineStream(WrappedLineStream):
    """A shell v2 service kept open: stdin packets in, stdout/stderr packets out."""

    def __init__(self, transport: "AdbServerTransport", conn: AdbConnection, command: str) -> None:
        super().__init__(transport.device, command)
        self.transport = transport
        self.conn = conn
        self._decoder = ShellV2Decoder()

    def _recv(self, timeout: float) -> tuple[bytes, bytes] | None:
        sock = self.conn.conn
        sock.settimeout(max(timeout, 0.001))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return None
        if not data:
            return b"", b""
        decoder = self._decoder
        decoder.feed(data)
        out, err = bytes(decoder.stdout), bytes(decoder.stderr)
        decoder.stdout.clear()
        decoder.stderr.clear()
        err = self._without_pid_line(err)
        if not out and not err:
            return (b"", b"") if decoder.exit_code is not None else None
        return out, err

    def _send(self, data: bytes) -> None:
        self.conn.conn.sendall(bytes([0]) + struct.pack("<I", len(data)) + data)  # shell v2 stdin packet

    def _close(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        try:
            self.conn.conn.sendall(CLOSE_STDIN)
            while self._decoder.exit_code is None and time.monotonic() < deadline:
                if self._recv(deadline - time.monotonic()) == (b"", b""):
                    break
            if self._decoder.exit_code is None:
                self._kill()
            return self._decoder.exit_code
        finally:
            self.conn.close()

    def _kill(self) -> None:
        self.conn.close()
        self.transport._kill(split_pid(bytes(self._head))[0])
