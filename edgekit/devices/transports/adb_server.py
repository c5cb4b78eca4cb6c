"""The ADB-server transport: reaches phones through an adb server with ``adbutils``.

The server may be this host's (``127.0.0.1:5037``) or a lab host's (``lab7:5037``), so a
farm controller can drive phones plugged into other machines. Unlike ``adbutils``'
default client, this one never starts a local adb server behind the user's back when the
configured one does not answer: that is reported as :class:`DeviceUnreachable`.

Commands use the shell v2 service (exit status, separate stderr) when the device has the
``shell_v2`` feature, read with a total deadline (``shell2(v2=True)`` only bounds each
``recv``). Pushes send the sync protocol with ``sendall`` (``adbutils``' ``Sync.push``
uses unchecked ``socket.send``, unsafe with a socket timeout) to ``remote.partial``,
then rename; pulls use ``device.sync.iter_content``.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import adbutils
from adbutils import AdbClient, AdbConnection, AdbError

from edgekit.devices.transports.adb import UNAUTHORIZED_HINT
from edgekit.devices.transports.base import Completed, Transport
from edgekit.devices.transports.line_stream import LineStream
from edgekit.devices.transports.shell_protocol import (
    CLOSE_STDIN,
    PID_PREFIX,
    RC_SUFFIX,
    ShellV2Decoder,
    kill_script,
    rename_into_place,
    split_pid,
    split_rc,
)
from edgekit.devices.transports.hostport import split_host_port
from edgekit.errors import ConfigError, DeviceError, DeviceTimeout

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.devices.profile import DeviceProfile

__all__ = ["AdbServerTransport"]

log = logging.getLogger(__name__)

_SYNC_DATA_MAX = 64 * 1024
#: device states an adb server reports while a connection is being set up
_TRANSITIONAL = frozenset({"offline", "connecting", "authorizing", "unauthorized"})


class _Expired(Exception):
    def __init__(self, partial: bytes = b"") -> None:
        super().__init__("deadline passed")
        self.partial = partial


class _Connection(AdbConnection):  # type: ignore[misc]
    """An adbutils connection that fails instead of spawning a local adb server."""

    def _safe_connect(self) -> socket.socket:
        return self._create_socket()


class _Client(AdbClient):  # type: ignore[misc]
    """An adbutils client whose connections never spawn a server and always time out."""

    def __init__(self, host: str, port: int, socket_timeout: float) -> None:
        super().__init__(host=host, port=port, socket_timeout=socket_timeout)
        self._socket_timeout = socket_timeout

    def make_connection(self, timeout: float | None = None) -> AdbConnection:
        conn = _Connection(self.host, self.port)
        conn.conn.settimeout(timeout or self._socket_timeout)
        return conn


class AdbServerTransport(Transport):
    """Runs commands and moves files on a device known to an adb server.

    Args:
        device: the device name used in error messages.
        serial: the device's serial as the server lists it (``adb devices``); a
            ``host:port`` serial is ``adb connect``-ed by the server when missing.
        server_host: the adb server's host (a lab machine, or this one).
        server_port: the adb server's port.
        connect_timeout: seconds for each exchange with the server.
    """

    @classmethod
    def from_profile(cls, profile: "DeviceProfile") -> "AdbServerTransport":
        """A phone through an adb server (the ``adb-server`` registry entry): ``connection.serial``."""
        c, name = profile.connection, profile.name
        server_host, server_port = split_host_port(c.server or "127.0.0.1:5037", 5037,
                                                   f"device '{name}': connection.server")
        if not c.serial:
            raise ConfigError(f"device '{name}': transport adb-server needs connection.serial",
                              hint="`adb devices` on the server host lists them; pass --serial")
        return cls(device=name, serial=c.serial, server_host=server_host or "127.0.0.1", server_port=server_port)

    @staticmethod
    def address(profile: "DeviceProfile") -> str:
        """Where the device is reached (its lease key until its facts name the physical device)."""
        c = profile.connection
        return f"adb-server:{c.server or '127.0.0.1:5037'}/{c.serial}"

    def __init__(self, device: str, serial: str, server_host: str = "127.0.0.1",
                 server_port: int = 5037, connect_timeout: float = 10.0) -> None:
        if not serial:
            raise ConfigError(f"ADB device '{device}' needs a serial",
                              hint="`adb devices` on the server host lists them")
        self.device = device
        self.serial = serial
        self.server_host = server_host
        self.server_port = int(server_port)
        self.connect_timeout = connect_timeout
        self._features: frozenset[str] | None = None
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        return f"{self.serial} via {self.server_host}:{self.server_port}"

    def close(self) -> None:
        """Forget cached device features (every call opens its own server connection)."""
        self._features = None

    # -- the server ----------------------------------------------------------------------

    def _device(self, deadline: float) -> Any:
        """The adbutils device, checked to be online; its features are cached."""
        timeout = min(max(deadline - time.monotonic(), 0.5), self.connect_timeout)
        client = _Client(self.server_host, self.server_port, socket_timeout=timeout)
        dev = client.device(serial=self.serial)
        with self._lock:
            if self._features is not None:
                return dev
        try:
            try:
                state = dev.get_state()
            except AdbError as exc:
                if "not found" not in str(exc) or ":" not in self.serial:
                    raise
                log.info("device %s: asking the adb server to connect %s", self.device, self.serial)
                answer = client.connect(self.serial, timeout=timeout)
                if "connected to" not in answer and "authenticate" not in answer:
                    raise AdbError(answer) from exc
                state = "offline"
            if state != "device":
                state = self._wait_online(dev, min(deadline, time.monotonic() + self.connect_timeout))
            if state != "device":
                raise AdbError(f"device {state}")
            features = frozenset(dev.get_features().split(","))
        except Exception as exc:
            raise self._error(exc) from exc
        with self._lock:
            self._features = features
        return dev

    def _wait_online(self, dev: Any, until: float) -> str:
        """Poll the server while the device's handshake (CNXN, AUTH) is still going on."""
        state = "offline"
        while True:
            try:
                state = dev.get_state()
            except AdbError as exc:
                text = str(exc)
                state = "unauthorized" if "unauthorized" in text else "authorizing" if "authoriz" in text else state
            if state not in _TRANSITIONAL or time.monotonic() >= until:
                return state
            time.sleep(0.05)  # polling the server's view of the device, bounded by ``until``

    def _error(self, exc: BaseException) -> DeviceError:
        if isinstance(exc, DeviceError):
            return exc
        text = str(exc)
        if "unauthorized" in text:
            return self._unreachable(
                "not authorized: the device did not accept the adb server's key",
                hint=UNAUTHORIZED_HINT.format(key="~/.android/adbkey of the user running the adb server"))
        if isinstance(exc, adbutils.errors.AdbConnectionError) or (
            isinstance(exc, OSError) and not isinstance(exc, socket.timeout)
        ):
            return self._unreachable(
                f"cannot reach the adb server: {exc}",
                hint=f"start it there (`adb -P {self.server_port} start-server`; for a lab host "
                f"`adb -a -P {self.server_port} nodaemon server`) and check the firewall")
        if isinstance(exc, (adbutils.AdbTimeout, socket.timeout)):
            return self._unreachable("the adb server did not answer in time",
                                     hint="check the server host's load and network")
        return self._unreachable(
            text.strip() or type(exc).__name__,
            hint=f"`adb -H {self.server_host} -P {self.server_port} devices` should list {self.serial} as "
            "'device'; check the cable, or `adb connect` it for ADB over TCP")

    # -- commands ------------------------------------------------------------------------

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        """Run ``argv`` on the device; see :meth:`Transport.run`."""
        args = tuple(str(a) for a in argv)
        command = self.quote(args)
        start = time.monotonic()
        deadline = start + timeout
        dev = self._device(deadline)
        try:
            rc, out, err = self._shell(dev, command, deadline)
        except _Expired as exc:
            self._kill(split_pid(exc.partial)[0])
            raise DeviceTimeout(
                f"device '{self.device}': `{command}` did not finish within {timeout:g} s",
                hint="raise the timeout, or check that the command does not wait for input; "
                "the process was killed", device=self.device) from None
        except Exception as exc:
            self.close()
            raise self._error(exc) from exc
        return Completed(args, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                         time.monotonic() - start)

    def _shell(self, dev: Any, command: str, deadline: float) -> tuple[int, bytes, bytes]:
        if self._features and "shell_v2" in self._features:
            decoder = ShellV2Decoder()
            with self._open(dev, f"shell,v2,raw:{PID_PREFIX}{command}", deadline) as conn:
                conn.conn.sendall(CLOSE_STDIN)
                try:
                    self._read(conn, deadline, decoder.feed, lambda: decoder.exit_code is not None)
                except _Expired:
                    raise _Expired(bytes(decoder.stderr)) from None
            rc = decoder.exit_code if decoder.exit_code is not None else 255
            return rc, bytes(decoder.stdout), split_pid(bytes(decoder.stderr))[1]
        combined = bytearray()
        with self._open(dev, f"shell:{PID_PREFIX}{command}{RC_SUFFIX}", deadline) as conn:
            try:
                self._read(conn, deadline, combined.extend, lambda: False)
            except _Expired:
                raise _Expired(bytes(combined)) from None
        rc, output = split_rc(split_pid(bytes(combined))[1])
        return rc, output, b""

    def _open(self, dev: Any, service: str, deadline: float) -> AdbConnection:
        conn = dev.open_transport(timeout=min(max(deadline - time.monotonic(), 0.5), self.connect_timeout))
        try:
            conn.send_command(service)
            conn.check_okay()
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _read(conn: AdbConnection, deadline: float, sink: Any, done: Any) -> None:
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Expired
            conn.conn.settimeout(remaining)
            try:
                data = conn.conn.recv(65536)
            except socket.timeout:
                raise _Expired from None
            if not data:
                return
            sink(data)

    supports_streams = True  # on devices with shell_v2; see open_stream

    def open_stream(self, argv: Sequence[str]) -> LineStream:
        """Start ``argv`` on one shell v2 service connection kept open (:mod:`.line_stream`).

        Raises NotImplementedError on devices without ``shell_v2`` (Android < 7): there stdin
        cannot be closed, and callers fall back to one process per command.
        """
        command = self.quote([str(a) for a in argv])
        deadline = time.monotonic() + self.connect_timeout
        dev = self._device(deadline)
        if not (self._features and "shell_v2" in self._features):
            raise NotImplementedError(f"device '{self.device}' has no shell_v2: no long-lived streams")
        try:
            conn = self._open(dev, f"shell,v2,raw:{PID_PREFIX}{command}", deadline)
        except Exception as exc:
            raise self._error(exc) from exc
        from edgekit.devices.transports.adb_server_stream import AdbServerLineStream

        return AdbServerLineStream(self, conn, command)

    def _kill(self, pid: int | None) -> None:
        if pid is None:
            log.warning("device %s: timed-out command reported no pid; cannot kill it", self.device)
            return
        try:
            deadline = time.monotonic() + self.connect_timeout
            self._shell(self._device(deadline), kill_script(pid), deadline)
        except Exception:  # noqa: BLE001 - best effort
            log.warning("device %s: could not kill timed-out process %d", self.device, pid, exc_info=True)

    # -- files ---------------------------------------------------------------------------

    def push(self, local: Path, remote: str, timeout: float) -> None:
        """Copy ``local`` to ``remote`` via ``remote.partial`` and a rename on the device."""
        source = self._push_source(local)
        deadline = time.monotonic() + timeout
        partial = remote + ".partial"
        info = source.stat()
        what = f"push '{source}' to '{remote}'"
        dev = self._device(deadline)
        try:
            with self._open(dev, "sync:", deadline) as conn, source.open("rb") as fh:
                spec = f"{partial},{stat.S_IFREG | stat.S_IMODE(info.st_mode)}".encode()
                sock = conn.conn
                sock.sendall(b"SEND" + struct.pack("<I", len(spec)) + spec)
                while chunk := fh.read(_SYNC_DATA_MAX):
                    self._check(deadline, sock)
                    sock.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                sock.sendall(b"DONE" + struct.pack("<I", int(info.st_mtime)))
                self._check(deadline, sock)
                status, length = struct.unpack("<4sI", conn.read_exact(8))
                if status != b"OKAY":
                    message = conn.read_exact(length).decode("utf-8", "replace") if status == b"FAIL" else status
                    raise DeviceError(f"device '{self.device}': cannot {what}: {message}",
                                      hint="check the device path, its permissions and free space",
                                      device=self.device)
        except Exception as exc:
            raise self._transfer_error(exc, what, timeout) from exc
        rename_into_place(self, partial, remote, deadline)

    def pull(self, remote: str, local: Path, timeout: float) -> None:
        """Copy ``remote`` to ``local`` (via ``local.partial`` and a rename)."""
        dest = Path(local)
        deadline = time.monotonic() + timeout
        partial = dest.with_name(dest.name + ".partial")
        what = f"pull '{remote}' to '{dest}'"
        dev = self._device(deadline)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with partial.open("wb") as fh:
                for chunk in dev.sync.iter_content(remote):
                    if time.monotonic() > deadline:
                        raise _Expired
                    fh.write(chunk)
            os.replace(partial, dest)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise self._transfer_error(exc, what, timeout) from exc

    @staticmethod
    def _check(deadline: float, sock: socket.socket) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Expired
        sock.settimeout(remaining)

    def _transfer_error(self, exc: BaseException, what: str, timeout: float) -> DeviceError:
        if isinstance(exc, DeviceError):
            return exc
        if isinstance(exc, (_Expired, socket.timeout, adbutils.AdbTimeout)):
            return DeviceTimeout(f"device '{self.device}': {what} did not finish within {timeout:g} s",
                                 hint="raise the timeout or check the link speed", device=self.device)
        if isinstance(exc, AdbError) and "unauthorized" not in str(exc) and "not found" not in str(exc) \
                and not isinstance(exc, adbutils.errors.AdbConnectionError) and "closed" not in str(exc):
            return DeviceError(f"device '{self.device}': cannot {what}: {exc}",
                               hint="check the device path and its permissions", device=self.device)
        self.close()
        if isinstance(exc, (OSError, EOFError, AdbError)):
            return self._unreachable(f"connection lost during {what}: {exc}",
                                     hint="check the device's power, cable or network, then retry")
        return self._error(exc)

