"""The transport interface: how bytes and commands reach a device.

A transport runs argv lists (quoted once, at this boundary), pushes and pulls files, and
answers every call within a timeout. Failures become :class:`DeviceTimeout` or
:class:`DeviceUnreachable` naming the device.
"""

from __future__ import annotations

import abc
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ...errors import ConfigError, DeviceUnreachable

if TYPE_CHECKING:
    from .line_stream import LineStream


@dataclass(frozen=True)
class Completed:
    """The result of one remote command."""

    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


class Transport(abc.ABC):
    """One device's channel. Implementations: LocalTransport, SshTransport, AdbTransport."""

    #: the device name used in every error message
    device: str

    @abc.abstractmethod
    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        """Run ``argv`` on the device; never raises for a non-zero exit code.

        Raises DeviceTimeout when it does not finish within ``timeout`` seconds (the remote
        process is killed where the transport allows), DeviceUnreachable when the device
        cannot be reached or drops the connection.
        """

    @abc.abstractmethod
    def push(self, local: Path, remote: str, timeout: float) -> None:
        """Copy a local file to ``remote`` (a POSIX path on the device)."""

    @abc.abstractmethod
    def pull(self, remote: str, local: Path, timeout: float) -> None:
        """Copy ``remote`` from the device to ``local``."""

    #: whether :meth:`open_stream` works on this transport
    supports_streams: bool = False

    def open_stream(self, argv: Sequence[str]) -> "LineStream":
        """Start ``argv`` and keep it running, spoken to in lines (:mod:`.line_stream`).

        The process dies with the stream: :meth:`LineStream.close` ends its stdin and waits,
        :meth:`LineStream.kill` kills it (and its process group) at once.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot keep a process open")

    @property
    def target(self) -> str:
        """Where the device is reached (``user@host:port``, ``serial via host:5037`` …)."""
        return "this host"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device!r}, target={self.target!r})"

    def _unreachable(self, reason: str, hint: str) -> DeviceUnreachable:
        """The one form of "cannot reach this device" every transport raises."""
        return DeviceUnreachable(f"device '{self.device}' ({self.target}) is unreachable: {reason}",
                                 hint=hint, device=self.device)

    @staticmethod
    def _push_source(local: Path) -> Path:
        """The local file a push reads, or a ConfigError naming it."""
        source = Path(local)
        if not source.is_file():
            raise ConfigError(f"cannot push '{source}': not a file", hint="check the path")
        return source

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections; the transport may be reused after (it reconnects)."""

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def quote(argv: Sequence[str]) -> str:
        """The one place an argv list becomes a shell command line."""
        return shlex.join([str(a) for a in argv])
