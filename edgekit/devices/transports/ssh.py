"""The SSH transport (Coral Dev Board, Jetson, Raspberry Pi) on paramiko.

Key authentication only; host keys as OpenSSH checks them (:mod:`.ssh_hostkeys`). Commands
are quoted once (:meth:`Transport.quote`) and prefixed with a line reporting the remote
shell's pid on stderr, so a timed-out command can be killed on the device (sshd does not
kill a command when its channel closes). Pushes go to ``<remote>.partial`` and are renamed
into place, so an interrupted push never leaves a complete-looking file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import select
import socket
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import paramiko

from edgekit.devices.transports.base import Completed, Transport
from edgekit.devices.transports.line_stream import LineStream, WrappedLineStream
from edgekit.devices.transports.shell_protocol import PID_PREFIX, kill_script, split_pid
from edgekit.devices.transports.hostport import split_host_port
from edgekit.devices.transports.ssh_hostkeys import connect_client, describe_error as _describe
from edgekit.errors import ConfigError, DeviceError, DeviceTimeout

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.devices.profile import DeviceProfile

__all__ = ["SshTransport"]

log = logging.getLogger(__name__)

_CHUNK = 65536
#: errors that mean the connection itself is gone
_LINK_ERRORS = (paramiko.SSHException, EOFError, OSError)


class _Expired(Exception):
    """Internal: the call's deadline passed."""


class SshTransport(Transport):
    """Runs commands and moves files over SSH (exec channels and SFTP).

    Args:
        device: the device name used in error messages.
        host: host name or address of the board.
        user: login user.
        port: SSH port.
        key_path: private key file; when ``None`` the usual ``~/.ssh/id_*`` keys and a
            running ssh-agent are tried. Passwords are never used.
        known_hosts: the known_hosts file host keys are verified against
            (default ``~/.ssh/known_hosts``).
        insecure_accept_host_key: trust an UNKNOWN host on first use and save its key to
            ``known_hosts`` (logged as a warning); a changed key is always refused
            (:mod:`.ssh_hostkeys`).
        connect_timeout: seconds for TCP connect, SSH banner and authentication.
        keepalive_s: interval of SSH keepalives, so a dead link is noticed.
    """

    @classmethod
    def from_profile(cls, profile: "DeviceProfile") -> "SshTransport":
        """A board over SSH (the ``ssh`` registry entry): ``connection.host`` is required."""
        import getpass

        c = profile.connection
        if not c.host:
            raise ConfigError(f"device '{profile.name}': transport ssh needs connection.host",
                              hint="set [connection] host, or pass --host")
        host, port = split_host_port(c.host, c.port or 22, f"device '{profile.name}': connection.host")
        return cls(device=profile.name, host=host, user=c.user or getpass.getuser(), port=port,
                   key_path=c.key or None, known_hosts=c.known_hosts or None,
                   insecure_accept_host_key=c.insecure_accept_host_key)

    @staticmethod
    def address(profile: "DeviceProfile") -> str:
        """Where the device is reached (its lease key until its facts name the physical device)."""
        c = profile.connection
        return f"ssh:{c.user}@{c.host}:{c.port or 22}"

    def __init__(
        self,
        device: str,
        host: str,
        user: str,
        port: int = 22,
        key_path: str | os.PathLike[str] | None = None,
        known_hosts: str | os.PathLike[str] | None = None,
        insecure_accept_host_key: bool = False,
        connect_timeout: float = 10.0,
        keepalive_s: int = 15,
    ) -> None:
        self.device = device
        self.host = host
        self.user = user
        self.port = int(port)
        self.key_path = Path(key_path).expanduser() if key_path is not None else None
        self.known_hosts = Path(known_hosts or "~/.ssh/known_hosts").expanduser()
        self.insecure_accept_host_key = insecure_accept_host_key
        self.connect_timeout = connect_timeout
        self.keepalive_s = keepalive_s
        self._lock = threading.RLock()
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    # -- connection ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the SSH connection; the next call reconnects."""
        with self._lock:
            sftp, client, self._sftp, self._client = self._sftp, self._client, None, None
        for thing in (sftp, client):
            with contextlib.suppress(Exception):  # closing a dead link may fail any way
                if thing is not None:
                    thing.close()

    def _connected(self) -> paramiko.SSHClient:
        """The live client, connecting (again) when there is none or the link dropped."""
        with self._lock:
            if self._client is not None:
                transport = self._client.get_transport()
                if transport is not None and transport.is_active():
                    return self._client
                log.info("device %s: SSH connection lost, reconnecting", self.device)
                self.close()
            self._client = connect_client(self)
            return self._client

    def _open_session(self, deadline: float) -> paramiko.Channel:
        """A new exec channel; reconnects once if the cached connection went stale."""
        for attempt in (1, 2):
            try:
                return self._connected().get_transport().open_session(  # type: ignore[union-attr]
                    timeout=_remaining(deadline, floor=0.5))
            except _LINK_ERRORS as exc:
                self.close()
                if attempt == 2:
                    raise self._unreachable(f"cannot open a channel: {_describe(exc)}",
                                            hint="check the board and its sshd") from exc
        raise AssertionError("unreachable")

    def _sftp_client(self, deadline: float) -> paramiko.SFTPClient:
        with self._lock:
            client = self._connected()
            if self._sftp is None or self._sftp.sock.closed:
                try:
                    self._sftp = client.open_sftp()
                except _LINK_ERRORS as exc:
                    self.close()
                    raise self._unreachable(f"cannot start SFTP: {_describe(exc)}",
                                            hint="check that the board's sshd has the sftp subsystem") from exc
            self._sftp.get_channel().settimeout(_remaining(deadline, floor=0.5))
            return self._sftp

    # -- commands ------------------------------------------------------------------------

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        """Run ``argv`` on the board; see :meth:`Transport.run`.

        The exit code is the remote one; -1 when the command was killed by a signal
        (sshd reports no status then).
        """
        args = tuple(str(a) for a in argv)
        command = self.quote(args)
        start = time.monotonic()
        deadline = start + timeout
        channel = self._open_session(deadline)
        out, err = bytearray(), bytearray()
        try:
            channel.exec_command(PID_PREFIX + command)
            channel.shutdown_write()
            self._drain(channel, out, err, deadline)
            rc = channel.recv_exit_status()
        except _Expired:
            channel.close()
            self._kill(err)
            raise DeviceTimeout(
                f"device '{self.device}': `{command}` did not finish within {timeout:g} s",
                hint="raise the timeout, or check that the command does not wait for input; "
                "the remote process was killed",
                device=self.device,
            ) from None
        except _LINK_ERRORS as exc:
            self.close()
            raise self._unreachable(
                f"connection lost while running `{command}`: {_describe(exc)}",
                hint="check the board's power and network; the command may still be running",
            ) from exc
        finally:
            channel.close()
        stderr = split_pid(bytes(err))[1]
        return Completed(
            argv=args, rc=rc, stdout=out.decode("utf-8", errors="replace"),
            stderr=stderr.decode("utf-8", errors="replace"), seconds=time.monotonic() - start,
        )

    @staticmethod
    def _drain(channel: paramiko.Channel, out: bytearray, err: bytearray, deadline: float) -> None:
        """Read stdout and stderr together until the command ends or the deadline passes."""
        while True:
            while channel.recv_ready():
                out += channel.recv(_CHUNK)
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(_CHUNK)
            finished = channel.closed or (channel.eof_received and channel.exit_status_ready())
            if finished and not channel.recv_ready() and not channel.recv_stderr_ready():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Expired
            # The channel's fileno becomes readable on stdout/stderr data and on close;
            # the cap only bounds a missed wake-up (exit status without data).
            select.select([channel], [], [], min(remaining, 1.0))

    def _kill(self, err: bytearray) -> None:
        """Kill a timed-out command by the pid its shell reported (best effort)."""
        pid = split_pid(bytes(err))[0]
        if pid is None:
            log.warning("device %s: timed-out command reported no pid; cannot kill it", self.device)
            return
        try:
            channel = self._open_session(time.monotonic() + self.connect_timeout)
            channel.exec_command(kill_script(pid))
            channel.shutdown_write()
            self._drain(channel, bytearray(), bytearray(), time.monotonic() + self.connect_timeout)
            channel.close()
        except (_Expired, DeviceError, *_LINK_ERRORS):
            log.warning("device %s: could not kill timed-out process %d", self.device, pid, exc_info=True)

    supports_streams = True

    def open_stream(self, argv: Sequence[str]) -> LineStream:
        """Start ``argv`` on one exec channel that stays open; see :meth:`Transport.open_stream`.

        Closing the channel closes the command's stdin and stdout (edgekit's runner exits
        then, even mid-job); :meth:`LineStream.kill` also kills its process group by the pid
        the command line reports, over a second channel.
        """
        command = self.quote([str(a) for a in argv])
        channel = self._open_session(time.monotonic() + self.connect_timeout)
        try:
            channel.exec_command(PID_PREFIX + command)
        except _LINK_ERRORS as exc:
            channel.close()
            self.close()
            raise self._unreachable(f"cannot start `{command}`: {_describe(exc)}",
                                    hint="check the board and its sshd") from exc
        return _SshLineStream(self, channel, command)

    # -- files ---------------------------------------------------------------------------

    def push(self, local: Path, remote: str, timeout: float) -> None:
        """Copy ``local`` to ``remote`` over SFTP (via ``remote.partial`` and a rename).

        Parent directories are created; the local permission bits are kept.
        """
        source = self._push_source(local)
        deadline = time.monotonic() + timeout
        partial = remote + ".partial"
        sftp = self._sftp_client(deadline)
        try:
            self._makedirs(sftp, posixpath.dirname(remote))
            with source.open("rb") as fl:
                sftp.putfo(fl, partial, source.stat().st_size, callback=_deadline_check(deadline))
            sftp.chmod(partial, stat.S_IMODE(source.stat().st_mode))
            try:
                sftp.posix_rename(partial, remote)
            except OSError:  # a server without the posix-rename@openssh.com extension
                with contextlib.suppress(OSError):
                    sftp.remove(remote)
                sftp.rename(partial, remote)
        except Exception as exc:
            self._transfer_failed(exc, f"push '{source}' to '{remote}'", timeout, cleanup=partial)
        log.debug("device %s: pushed %s -> %s", self.device, source, remote)

    def pull(self, remote: str, local: Path, timeout: float) -> None:
        """Copy ``remote`` to ``local`` over SFTP (via ``local.partial`` and a rename)."""
        dest = Path(local)
        deadline = time.monotonic() + timeout
        partial = dest.with_name(dest.name + ".partial")
        sftp = self._sftp_client(deadline)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as fl:
                sftp.getfo(remote, fl, callback=_deadline_check(deadline))
            os.replace(partial, dest)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            self._transfer_failed(exc, f"pull '{remote}' to '{dest}'", timeout)
        log.debug("device %s: pulled %s -> %s", self.device, remote, dest)

    def _makedirs(self, sftp: paramiko.SFTPClient, path: str) -> None:
        missing: list[str] = []
        while path not in ("", "/", "."):
            try:
                if stat.S_ISDIR(sftp.stat(path).st_mode or 0):
                    break
                raise DeviceError(f"device '{self.device}': '{path}' exists and is not a directory",
                                  device=self.device)
            except FileNotFoundError:
                missing.append(path)
                path = posixpath.dirname(path)
        for directory in reversed(missing):
            sftp.mkdir(directory)

    def _transfer_failed(self, exc: BaseException, what: str, timeout: float, cleanup: str | None = None) -> None:
        """Raise the edgekit error for a failed transfer, removing ``cleanup`` if possible."""
        transport = self._client.get_transport() if self._client is not None else None
        link_alive = transport is not None and transport.is_active()
        if cleanup is not None and link_alive and self._sftp is not None:
            try:
                self._sftp.remove(cleanup)
            except Exception:  # noqa: BLE001 - best effort
                log.debug("device %s: could not remove %s", self.device, cleanup)
        if isinstance(exc, DeviceError):
            raise exc
        if isinstance(exc, (_Expired, socket.timeout)):
            if not isinstance(exc, _Expired):
                self.close()  # an SFTP request got no answer: the link is stuck
            raise DeviceTimeout(f"device '{self.device}': {what} did not finish within {timeout:g} s",
                                hint="raise the timeout or check the link speed", device=self.device) from exc
        if not link_alive or isinstance(exc, (EOFError, paramiko.SSHException)):
            self.close()
            raise self._unreachable(f"connection lost during {what}: {_describe(exc)}",
                                    hint="check the board's power and network, then retry") from exc
        raise DeviceError(f"device '{self.device}': cannot {what}: {_describe(exc)}",
                          hint="check the remote path, its permissions and free space",
                          device=self.device) from exc


def _deadline_check(deadline: float) -> Callable[[int, int], None]:
    def check(done: int, total: int) -> None:
        if time.monotonic() > deadline:
            raise _Expired
    return check


def _remaining(deadline: float, floor: float = 0.0) -> float:
    return max(deadline - time.monotonic(), floor)


class _SshLineStream(WrappedLineStream):
    """One exec channel kept open: stdout lines, stderr tail, the remote shell's pid."""

    def __init__(self, transport: SshTransport, channel: paramiko.Channel, command: str) -> None:
        super().__init__(transport.device, command)
        self.transport = transport
        self.channel = channel

    def _recv(self, timeout: float) -> tuple[bytes, bytes] | None:
        channel = self.channel
        out = channel.recv(_CHUNK) if channel.recv_ready() else b""
        err = channel.recv_stderr(_CHUNK) if channel.recv_stderr_ready() else b""
        err = self._without_pid_line(err)
        if out or err:
            return out, err
        if channel.closed or channel.eof_received:
            if not channel.recv_ready() and not channel.recv_stderr_ready():
                return b"", b""
            return None
        select.select([channel], [], [], min(timeout, 1.0))
        return None

    def _send(self, data: bytes) -> None:
        self.channel.sendall(data)

    def _close(self, timeout: float) -> int | None:
        channel = self.channel
        try:
            channel.shutdown_write()
            if channel.status_event.wait(timeout):
                return channel.recv_exit_status()
            self._kill()
            return None
        finally:
            channel.close()

    def _kill(self) -> None:
        self.channel.close()
        self.transport._kill(bytearray(self._head))
