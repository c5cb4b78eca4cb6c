"""The SSH transport (Coral Dev Board, Jetson, Raspberry Pi) on paramiko.

Key authentication only, host keys verified against ``known_hosts`` unless the user
explicitly opts out. Commands are quoted once (:meth:`Transport.quote`) and prefixed with a
line that reports the remote shell's pid on stderr, so that a timed-out command can be
killed on the device (sshd does not kill a command when its channel closes). Pushes go to
``<remote>.partial`` and are renamed into place, so an interrupted push never leaves a
complete-looking file.
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
from typing import Callable, Sequence

import paramiko

from edgekit.devices.transports.base import Completed, Transport
from edgekit.devices.transports.shell_protocol import PID_PREFIX, kill_script, split_pid
from edgekit.errors import ConfigError, DeviceError, DeviceTimeout

__all__ = ["SshTransport"]

log = logging.getLogger(__name__)

_CHUNK = 65536
#: errors that mean the connection itself is gone
_LINK_ERRORS = (paramiko.SSHException, EOFError, OSError)


class _Expired(Exception):
    """Internal: the call's deadline passed."""


class _UnknownHostKey(paramiko.SSHException):
    """The server's host key is not in known_hosts (raised by :class:`_RejectUnknown`)."""


class _RejectUnknown(paramiko.RejectPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(f"host key {key.get_name()} {key.fingerprint} is not in known_hosts")


class _WarnAndAccept(paramiko.AutoAddPolicy):
    def __init__(self, device: str) -> None:
        self.device = device

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        log.warning(
            "device %s: accepting host key %s %s of %s WITHOUT verification "
            "(insecure_accept_host_key)", self.device, key.get_name(), key.fingerprint, hostname,
        )
        super().missing_host_key(client, hostname, key)


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
        insecure_accept_host_key: accept any host key without verification (logged as
            a warning). Only for throwaway boards on a trusted network.
        connect_timeout: seconds for TCP connect, SSH banner and authentication.
        keepalive_s: interval of SSH keepalives, so a dead link is noticed.
    """

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
            self._client = self._connect()
            return self._client

    def _connect(self) -> paramiko.SSHClient:
        if self.key_path is not None and not self.key_path.is_file():
            raise ConfigError(
                f"SSH key for device '{self.device}' not found: {self.key_path}",
                hint="fix key_path in the device profile, or create a key with ssh-keygen",
            )
        client = paramiko.SSHClient()
        if self.insecure_accept_host_key:
            client.set_missing_host_key_policy(_WarnAndAccept(self.device))
        else:
            if self.known_hosts.is_file():
                client.load_host_keys(str(self.known_hosts))
            client.set_missing_host_key_policy(_RejectUnknown())
        timeout = self.connect_timeout
        try:
            client.connect(
                hostname=self.host, port=self.port, username=self.user, password=None,
                key_filename=str(self.key_path) if self.key_path else None,
                look_for_keys=self.key_path is None, allow_agent=self.key_path is None,
                timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
                channel_timeout=timeout,
            )
        except Exception as exc:
            client.close()
            raise self._connect_error(exc) from exc
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(self.keepalive_s)
        log.debug("device %s: connected to %s", self.device, self.target)
        return client

    def _connect_error(self, exc: BaseException) -> DeviceError:
        keyscan = f"ssh-keyscan -p {self.port} {self.host} >> {self.known_hosts}"
        key = f"key {self.key_path}" if self.key_path else "your default keys (~/.ssh/id_*, agent)"
        if isinstance(exc, _UnknownHostKey):
            return self._unreachable(
                f"unknown host key ({exc})",
                hint=f"verify the board's key and add it: `{keyscan}`, or pass "
                "--insecure-accept-host-key (insecure_accept_host_key = true) on a trusted network",
            )
        if isinstance(exc, paramiko.BadHostKeyException):
            return self._unreachable(
                "the host key does not match known_hosts (reflashed board, or someone in the middle)",
                hint=f"if the board was reflashed: `ssh-keygen -f {self.known_hosts} -R "
                f"'[{self.host}]:{self.port}'` then `{keyscan}`",
            )
        if isinstance(exc, paramiko.AuthenticationException) or (
            isinstance(exc, paramiko.SSHException) and "authentication methods" in str(exc)
        ):
            return self._unreachable(
                f"authentication as '{self.user}' with {key} was refused",
                hint=f"install the public key on the board: `ssh-copy-id -i {self.key_path or '~/.ssh/id_ed25519'} "
                f"-p {self.port} {self.user}@{self.host}` (Coral: `mdt pushkey`), and check key_path",
            )
        return self._unreachable(
            _describe(exc),
            hint=f"check that the board is powered and on the network and that "
            f"`ssh -p {self.port} {self.user}@{self.host}` works",
        )

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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        errors = {e.strerror or str(e) for e in exc.errors.values()}
        return "; ".join(sorted(errors)) or "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host name ({exc.strerror})"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
