"""A long-lived command on a device, spoken to in lines: the channel of a serve-mode runner.

:meth:`Transport.open_stream` starts ``argv`` once and returns a :class:`LineStream`: one
line in (:meth:`LineStream.write_line`), one line out (:meth:`LineStream.read_line`, with a
timeout), stderr kept as a bounded tail for error messages. Each transport provides the
byte-level part (:meth:`_recv`, :meth:`_send`, :meth:`_close`, :meth:`_kill`); the framing,
deadlines and errors live here, once.

Errors: a read past its timeout raises :class:`DeviceTimeout`; a stream that ended (the
process exited, the connection dropped) raises :class:`StreamClosed`, a
:class:`DeviceError` naming the device and carrying the stderr tail.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from typing import Optional

from ...errors import DeviceError, DeviceTimeout
from .shell_protocol import split_pid

__all__ = ["LineStream", "StreamClosed"]

log = logging.getLogger(__name__)

#: bytes of stderr kept for error messages
STDERR_TAIL = 8192
#: a line longer than this is a broken stream, not a result (a result is ~40 kB per 1000 samples)
MAX_LINE = 256 * 1024 * 1024


class StreamClosed(DeviceError):
    """The stream's process exited or its connection dropped (``exit_code`` when known)."""

    def __init__(self, message: str, hint: Optional[str] = None, device: Optional[str] = None,
                 exit_code: Optional[int] = None) -> None:
        super().__init__(message, hint=hint, device=device)
        self.exit_code = exit_code


class LineStream(abc.ABC):
    """One long-lived process on a device, with line-framed stdin and stdout.

    Args:
        device: the device name used in error messages.
        command: the command line, for messages.
    """

    def __init__(self, device: str, command: str) -> None:
        self.device = device
        self.command = command
        self._out = bytearray()
        self._err = bytearray()
        self._eof = False
        self._closed = False
        self._lock = threading.Lock()

    # -- what each transport provides ------------------------------------------------------
    @abc.abstractmethod
    def _recv(self, timeout: float) -> Optional[tuple[bytes, bytes]]:
        """Wait up to ``timeout`` s for output: (stdout bytes, stderr bytes), None when nothing
        came in time; ``(b"", b"")`` at the end of the stream (stdout closed)."""

    @abc.abstractmethod
    def _send(self, data: bytes) -> None:
        """Write all of ``data`` to the process's stdin (raises OSError/EOFError when it is gone)."""

    @abc.abstractmethod
    def _close(self, timeout: float) -> Optional[int]:
        """Close stdin, wait up to ``timeout`` s for the exit, release the channel; the exit code."""

    @abc.abstractmethod
    def _kill(self) -> None:
        """Kill the process (and its group) and release the channel, now."""

    # -- the line protocol -----------------------------------------------------------------
    @property
    def stderr_tail(self) -> str:
        """The last few kB the process wrote on stderr."""
        return self._err[-STDERR_TAIL:].decode("utf-8", "replace")

    @property
    def alive(self) -> bool:
        """False once the stream ended or was closed."""
        return not (self._eof or self._closed)

    def write_line(self, text: str) -> None:
        """Send one line (``text`` must not contain a newline)."""
        if "\n" in text:
            raise ValueError("a stream line must not contain a newline")
        if not self.alive:
            raise self._ended("cannot send a line")
        try:
            self._send(text.encode("utf-8") + b"\n")
        except (OSError, EOFError, ValueError) as exc:
            self._eof = True
            raise self._ended(f"sending a line failed ({exc})") from exc

    def read_line(self, timeout: float) -> str:
        """The next stdout line (without its newline).

        Raises:
            DeviceTimeout: no complete line within ``timeout`` seconds (the stream stays open).
            StreamClosed: the stream ended before a complete line.
        """
        deadline = time.monotonic() + timeout
        while True:
            index = self._out.find(b"\n")
            if index >= 0:
                line = bytes(self._out[:index])
                del self._out[:index + 1]
                return line.decode("utf-8", "replace").rstrip("\r")
            if len(self._out) > MAX_LINE:
                raise self._ended(f"a line longer than {MAX_LINE} bytes")
            if self._eof or self._closed:
                raise self._ended("the stream ended")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeout(f"device '{self.device}': no answer from `{self.command}` within {timeout:g} s",
                                    hint="raise the timeout; the process may be hung", device=self.device)
            try:
                got = self._recv(remaining)
            except (OSError, EOFError) as exc:
                self._eof = True
                raise self._ended(f"reading failed ({exc})") from exc
            self._absorb(got)

    def poll(self) -> bool:
        """Whether the stream is still open, checked without waiting (output is kept for
        :meth:`read_line`): an idle process that died is noticed before a line is sent to it."""
        if not self.alive:
            return False
        try:
            self._absorb(self._recv(0.0))
        except (OSError, EOFError):
            self._eof = True
        return self.alive

    def _absorb(self, got: Optional[tuple[bytes, bytes]]) -> None:
        if got is None:
            return
        out, err = got
        if err:
            self._err += err
            del self._err[:-STDERR_TAIL]
        if out:
            self._out += out
        elif not err:
            self._eof = True

    def close(self, timeout: float = 5.0) -> Optional[int]:
        """End the process politely (EOF on its stdin), killing it after ``timeout`` s."""
        with self._lock:
            if self._closed:
                return None
            self._closed = True
        try:
            return self._close(timeout)
        except Exception:  # noqa: BLE001 - a stuck or dead channel: kill it
            log.debug("device %s: closing `%s` failed; killing it", self.device, self.command, exc_info=True)
            self._kill()
            return None

    def kill(self) -> None:
        """Kill the process now (its result, if any, is lost)."""
        with self._lock:
            self._closed = True
        try:
            self._kill()
        except Exception:  # noqa: BLE001 - best effort, the link may be gone
            log.warning("device %s: could not kill `%s`", self.device, self.command, exc_info=True)

    def __enter__(self) -> "LineStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ended(self, what: str) -> StreamClosed:
        tail = self.stderr_tail.strip()[-600:]
        return StreamClosed(f"device '{self.device}': `{self.command}`: {what}"
                            + (f"; its stderr ends: {tail}" if tail else ""),
                            hint="the process on the device exited or the link dropped; run again",
                            device=self.device)


class WrappedLineStream(LineStream):
    """A stream whose remote wrapper prints the process's pid line first on stderr
    (:func:`~edgekit.devices.transports.shell_protocol.kill_script`): stderr is held back until
    that line is complete, then passed on without it; ``_head`` keeps it for :meth:`_kill`."""

    def __init__(self, device: str, command: str) -> None:
        super().__init__(device, command)
        self._head = bytearray()      # stderr until the pid line is complete
        self._head_done = False

    def _without_pid_line(self, err: bytes) -> bytes:
        """``err`` as the process wrote it: empty until the wrapper's pid line is complete."""
        if not err or self._head_done:
            return err
        self._head += err
        if b"\n" not in self._head:
            return b""
        self._head_done = True
        return split_pid(bytes(self._head))[1]
