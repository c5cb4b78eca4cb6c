"""How remote commands are framed: shared by the SSH and ADB transports.

* Every command line starts with :data:`PID_PREFIX`, which prints the remote shell's pid
  on stderr before the command runs. sshd and adbd do not kill a command when its
  channel closes, so a timed-out command is killed by that pid (:func:`kill_script`); the
  shell is a session and process-group leader under both daemons, so its whole group goes.
* Without shell v2 (Android < 7), stdout and stderr are one stream and carry no exit
  status: :data:`RC_SUFFIX` echoes it after the command (:func:`split_rc`).
* :class:`ShellV2Decoder` decodes adbd's shell v2 packets (``shell_protocol.h``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from ...errors import DeviceError

if TYPE_CHECKING:
    from .base import Transport

__all__ = ["PID_PREFIX", "RC_SUFFIX", "CLOSE_STDIN", "ShellV2Decoder", "kill_script", "split_pid",
           "split_rc"]

log = logging.getLogger(__name__)

PID_PREFIX = "printf '__EDGEKIT_PID=%s\\n' \"$$\" >&2; "
_PID_LINE = re.compile(rb"\A__EDGEKIT_PID=(\d+)\r?\n")
RC_SUFFIX = '; echo "__EDGEKIT_RC=$?"'
_RC_MARKER = b"__EDGEKIT_RC="

#: shell v2 packet ids (adb's shell_protocol.h)
STDIN, STDOUT, STDERR, EXIT, CLOSE_STDIN_ID, WINDOW_SIZE = 0, 1, 2, 3, 4, 5
#: the shell v2 "close stdin" packet: commands never wait for input
CLOSE_STDIN = bytes([CLOSE_STDIN_ID, 0, 0, 0, 0])


def rename_into_place(transport: "Transport", partial: str, remote: str, deadline: float) -> None:
    """Finish an atomic push: ``mv -f partial remote`` on the device, or a DeviceError."""
    moved = transport.run(["mv", "-f", partial, remote], max(deadline - time.monotonic(), 1.0))
    if not moved.ok:
        raise DeviceError(f"device '{transport.device}': cannot move '{partial}' to '{remote}': "
                          f"{(moved.stdout + moved.stderr).strip()}", device=transport.device)


def kill_script(pid: int) -> str:
    """A POSIX shell line killing the process group ``pid`` leads, its children, and it."""
    return (
        f"kill -s KILL -- -{pid} 2>/dev/null; pkill -KILL -P {pid} 2>/dev/null; "
        f"kill -s KILL {pid} 2>/dev/null; true"
    )


def split_pid(data: bytes) -> tuple[int | None, bytes]:
    """Remove the line :data:`PID_PREFIX` printed; return (pid or None, the rest)."""
    match = _PID_LINE.match(data)
    return (int(match.group(1)), data[match.end():]) if match else (None, data)


def split_rc(data: bytes) -> tuple[int, bytes]:
    """Split output ending in the :data:`RC_SUFFIX` marker into (exit code, output).

    The exit code is -1 when the marker is missing (the shell itself exited early).
    """
    index = data.rfind(_RC_MARKER)
    if index < 0:
        log.warning("shell output carries no exit status marker (the shell exited early?)")
        return -1, data
    try:
        return int(data[index + len(_RC_MARKER):].strip()), data[:index]
    except ValueError:
        return -1, data[:index]


class ShellV2Decoder:
    """Incremental decoder of a shell v2 stream: 1-byte id, 4-byte LE length, payload.

    Attributes:
        stdout: bytes of the stdout packets so far.
        stderr: bytes of the stderr packets so far.
        exit_code: the exit packet's code, once it arrived.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.exit_code: int | None = None

    def feed(self, data: bytes) -> None:
        """Add bytes from the stream; complete packets are decoded at once."""
        self._buffer += data
        while len(self._buffer) >= 5:
            length = int.from_bytes(self._buffer[1:5], "little")
            if len(self._buffer) < 5 + length:
                return
            kind, payload = self._buffer[0], bytes(self._buffer[5:5 + length])
            del self._buffer[:5 + length]
            if kind == STDOUT:
                self.stdout += payload
            elif kind == STDERR:
                self.stderr += payload
            elif kind == EXIT:
                self.exit_code = payload[0] if payload else 255
