"""The direct ADB transport: talks to a phone's adbd over TCP (or USB) with ``adb-shell``.

No adb server is involved; the host's RSA key lives at ``~/.config/edgekit/adbkey``
(``EDGEKIT_ADB_KEY`` or ``key_path`` override it; an existing ``~/.android/adbkey`` works
too). Exit codes come from the shell v2 protocol when the device advertises ``shell_v2``
in its CNXN banner, otherwise from a marker echoed after the command
(:mod:`.shell_protocol`).

adb-shell's public API gives no total deadline and no exit status, so the stream loop
below uses its documented-in-source internals ``_open`` / ``_read_until`` /
``_io_manager``; they have been stable since adb-shell 0.3.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from edgekit.devices.transports.adb_keys import default_key_path, ensure_adb_key, load_signer
from edgekit.devices.transports.base import Completed, Transport
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
from edgekit.devices.transports.adb_link import _DeadlineFile, _Expired, _StaleLink, _tcp_transport, parse_features
from edgekit.devices.transports.hostport import split_host_port
from edgekit.errors import ConfigError, DeviceError, DeviceTimeout

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.devices.profile import DeviceProfile

__all__ = ["AdbTransport", "UNAUTHORIZED_HINT", "parse_features"]

log = logging.getLogger(__name__)

UNAUTHORIZED_HINT = (
    "unlock the phone and accept the 'Allow USB debugging?' prompt for this computer "
    "(tick 'Always allow'); the key is {key}"
)


class AdbTransport(Transport):
    """Runs commands and moves files on an Android device straight through its adbd.

    Args:
        device: the device name used in error messages.
        serial: USB serial number; used (with ``adb-shell[usb]``) when ``host`` is None.
        host: address of a device listening for ADB over TCP (``adb tcpip 5555``).
        port: its ADB TCP port.
        key_path: the host's RSA private key (created once when missing); default
            :func:`default_key_path`.
        connect_timeout: seconds for TCP connect and the CNXN handshake.
        auth_timeout: seconds to wait for someone to accept a new key on the phone.

    Attributes:
        features: the device's ADB features from its CNXN banner (after connecting).
    """

    @classmethod
    def from_profile(cls, profile: "DeviceProfile") -> "AdbTransport":
        """A phone's adbd, directly (the ``adb`` registry entry): TCP ``host[:port]`` or a USB serial."""
        c, name = profile.connection, profile.name
        host, port, serial = c.host or None, c.port or 5555, c.serial or None
        if host is not None:  # "127.0.0.1:5599", as `adb connect` takes it
            host, port = split_host_port(host, port, f"device '{name}': connection.host")
        if host is None and serial and ":" in serial:  # "192.168.1.20:5555" is ADB over TCP
            host, port = split_host_port(serial, 5555, f"device '{name}': connection.serial")
            serial = None
        if host is None and serial is None:
            raise ConfigError(f"device '{name}': transport adb needs connection.host (ADB over TCP) "
                              "or connection.serial (USB)",
                              hint="`adb devices` lists serials; pass --serial or --host")
        return cls(device=name, serial=serial, host=host, port=port, key_path=c.key or None)

    @staticmethod
    def address(profile: "DeviceProfile") -> str:
        """Where the device is reached (its lease key until its facts name the physical device)."""
        c = profile.connection
        return f"adb:{c.serial or f'{c.host}:{c.port or 5555}'}"

    def __init__(
        self,
        device: str,
        serial: str | None = None,
        host: str | None = None,
        port: int = 5555,
        key_path: str | os.PathLike[str] | None = None,
        connect_timeout: float = 10.0,
        auth_timeout: float = 30.0,
    ) -> None:
        if host is None and serial is None:
            raise ConfigError(f"ADB device '{device}' needs a host (TCP) or a serial (USB)",
                              hint="set host = '<phone ip>' or serial = '<adb serial>' in its profile")
        self.device = device
        self.serial = serial
        self.host = host
        self.port = int(port)
        self.key_path = Path(key_path).expanduser() if key_path is not None else default_key_path()
        self.connect_timeout = connect_timeout
        self.auth_timeout = auth_timeout
        self.features: frozenset[str] = frozenset()
        self._lock = threading.RLock()
        self._dev: Any = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}" if self.host is not None else f"usb:{self.serial}"

    # -- connection ----------------------------------------------------------------------

    def close(self) -> None:
        """Drop the ADB connection; the next call reconnects."""
        with self._lock:
            dev, self._dev = self._dev, None
        if dev is not None:
            with contextlib.suppress(Exception):
                dev.close()

    def _connected(self) -> Any:
        with self._lock:
            if self._dev is None or not self._dev.available:
                self._dev = self._connect()
            return self._dev

    def _connect(self) -> Any:
        from adb_shell import exceptions
        from adb_shell.adb_device import AdbDevice, AdbDeviceUsb

        signer = load_signer(ensure_adb_key(self.key_path))
        timeout = self.connect_timeout
        if self.host is not None:
            dev = AdbDevice(_tcp_transport(self.host, self.port), default_transport_timeout_s=timeout)
        else:
            try:
                dev = AdbDeviceUsb(serial=self.serial, default_transport_timeout_s=timeout)
            except exceptions.InvalidTransportError as exc:
                raise self._unreachable(
                    "USB support is not installed",
                    hint="pip install 'adb-shell[usb]' (needs libusb), or use ADB over TCP: "
                    "`adb tcpip 5555`, then set host in the profile") from exc
            except Exception as exc:  # noqa: BLE001 - usb1 raises its own types
                raise self._unreachable(f"no USB device: {exc}",
                                        hint="check the cable and `lsusb`; accept the USB debugging prompt") from exc
        banners: list[bytes] = []
        io_manager = getattr(dev, "_io_manager", None)
        read_packet = getattr(io_manager, "_read_expected_packet_from_device", None)
        if read_packet is not None:
            def capture(expected: Any, adb_info: Any) -> Any:
                packet = read_packet(expected, adb_info)
                if packet[0] == b"CNXN":
                    banners.append(bytes(packet[3]))
                return packet
            io_manager._read_expected_packet_from_device = capture
        prompted: list[bool] = []

        def on_prompt(_: Any) -> None:
            prompted.append(True)
            log.warning("device %s: waiting up to %g s for the phone to accept key %s",
                        self.device, self.auth_timeout, self.key_path)

        try:
            dev.connect(rsa_keys=[signer], transport_timeout_s=timeout, auth_timeout_s=self.auth_timeout,
                        read_timeout_s=timeout, auth_callback=on_prompt)
        except Exception as exc:
            with contextlib.suppress(Exception):
                dev.close()
            raise self._connect_error(exc, bool(prompted)) from exc
        self.features = parse_features(banners[-1]) if banners else frozenset()
        log.debug("device %s: connected to %s, features %s", self.device, self.target, sorted(self.features))
        return dev

    def _connect_error(self, exc: BaseException, prompted: bool) -> DeviceError:
        from adb_shell import exceptions

        timeouts = (exceptions.AdbTimeoutError, exceptions.TcpTimeoutException, socket.timeout)
        if isinstance(exc, exceptions.DeviceAuthError) or (prompted and isinstance(exc, timeouts)):
            return self._unreachable(
                "not authorized: the device did not accept this computer's ADB key",
                hint=UNAUTHORIZED_HINT.format(key=self.key_path))
        if isinstance(exc, timeouts):
            return self._unreachable("no answer to the ADB handshake",
                                     hint="check that adbd listens on this port (`adb tcpip 5555`)")
        if isinstance(exc, socket.gaierror):
            reason = f"cannot resolve host name ({exc.strerror})"
        elif isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
        else:
            reason = f"ADB protocol error: {exc}"
        return self._unreachable(
            reason, hint=f"check that the phone is on and on the network, that ADB over TCP is enabled "
            f"(`adb tcpip {self.port}` over USB) and that `adb connect {self.target}` works")

    # -- commands ------------------------------------------------------------------------

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        """Run ``argv`` on the device; see :meth:`Transport.run`."""
        args = tuple(str(a) for a in argv)
        command = self.quote(args)
        start = time.monotonic()
        deadline = start + timeout
        with self._lock:
            for attempt in (1, 2):
                try:
                    rc, out, err = self._shell(self._connected(), command, deadline)
                    break
                except _StaleLink as exc:
                    self.close()
                    if attempt == 2:
                        raise self._link_error(exc.__cause__ or exc, f"running `{command}`") from exc
                    log.info("device %s: the ADB connection went stale, reconnecting", self.device)
                    continue
                except _Expired as exc:
                    self.close()  # the stream is mid-packet: start afresh
                    self._kill(split_pid(exc.partial)[0])
                    raise DeviceTimeout(
                        f"device '{self.device}': `{command}` did not finish within {timeout:g} s",
                        hint="raise the timeout, or check that the command does not wait for input; "
                        "the process was killed", device=self.device) from None
                except Exception as exc:
                    self.close()
                    raise self._link_error(exc, f"running `{command}`") from exc
        return Completed(args, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                         time.monotonic() - start)

    def _shell(self, dev: Any, command: str, deadline: float) -> tuple[int, bytes, bytes]:
        if "shell_v2" in self.features:
            decoder = ShellV2Decoder()
            try:
                self._stream(dev, f"shell,v2,raw:{PID_PREFIX}{command}", deadline, decoder.feed, CLOSE_STDIN)
            except _Expired:
                raise _Expired(bytes(decoder.stderr)) from None
            rc = decoder.exit_code if decoder.exit_code is not None else 255
            return rc, bytes(decoder.stdout), split_pid(bytes(decoder.stderr))[1]
        combined = bytearray()
        try:
            self._stream(dev, f"shell:{PID_PREFIX}{command}{RC_SUFFIX}", deadline, combined.extend)
        except _Expired:
            raise _Expired(bytes(combined)) from None
        rc, output = split_rc(split_pid(bytes(combined))[1])
        return rc, output, b""

    @staticmethod
    def _stream(dev: Any, destination: str, deadline: float, sink: Callable[[bytes], Any],
                first_write: bytes | None = None) -> None:
        """Open a service stream, pass every WRTE payload to ``sink`` until CLSE."""
        from adb_shell import constants, exceptions
        from adb_shell.adb_message import AdbMessage

        remaining = max(deadline - time.monotonic(), 0.01)
        try:
            info = dev._open(destination.encode("utf-8"), remaining, remaining, None)
        except (exceptions.AdbTimeoutError, exceptions.TcpTimeoutException):
            raise _Expired from None
        except OSError as exc:
            raise _StaleLink from exc
        if first_write is not None:
            dev._io_manager.send(AdbMessage(constants.WRTE, info.local_id, info.remote_id, first_write), info)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Expired
            info.transport_timeout_s = info.read_timeout_s = remaining
            try:
                cmd, data = dev._read_until([constants.CLSE, constants.WRTE, constants.OKAY], info)
            except (exceptions.AdbTimeoutError, exceptions.TcpTimeoutException):
                raise _Expired from None
            if cmd == constants.CLSE:
                dev._io_manager.send(AdbMessage(constants.CLSE, info.local_id, info.remote_id), info)
                return
            if cmd == constants.WRTE:
                sink(data)

    def _kill(self, pid: int | None) -> None:
        if pid is None:
            log.warning("device %s: timed-out command reported no pid; cannot kill it", self.device)
            return
        try:
            dev = self._connected()
            self._shell(dev, kill_script(pid), time.monotonic() + self.connect_timeout)
        except Exception:  # noqa: BLE001 - best effort
            self.close()
            log.warning("device %s: could not kill timed-out process %d", self.device, pid, exc_info=True)

    def _link_error(self, exc: BaseException, what: str) -> DeviceError:
        if isinstance(exc, DeviceError):
            return exc
        return self._unreachable(f"connection lost while {what}: {exc}",
                                 hint="check the phone's power and network (or cable), then retry")

    # -- files ---------------------------------------------------------------------------

    def push(self, local: Path, remote: str, timeout: float) -> None:
        """Copy ``local`` to ``remote`` via ``remote.partial`` and a rename on the device.

        adbd creates parent directories; the local permission bits are kept.
        """
        source = self._push_source(local)
        deadline = time.monotonic() + timeout
        partial = remote + ".partial"
        info = source.stat()
        with self._lock, source.open("rb") as fh:
            for attempt in (1, 2):
                remaining = max(deadline - time.monotonic(), 0.01)
                fh.seek(0)
                reader = _DeadlineFile(fh, deadline)
                try:
                    self._connected().push(
                        reader, partial, st_mode=stat.S_IFREG | stat.S_IMODE(info.st_mode),
                        mtime=int(info.st_mtime), transport_timeout_s=remaining, read_timeout_s=remaining)
                    break
                except Exception as exc:
                    if attempt == 1 and isinstance(exc, OSError) and not reader.started:
                        self.close()  # a stale connection: nothing was sent, try a fresh one
                        continue
                    raise self._transfer_error(exc, f"push '{source}' to '{remote}'", timeout) from exc
            rename_into_place(self, partial, remote, deadline)

    def pull(self, remote: str, local: Path, timeout: float) -> None:
        """Copy ``remote`` to ``local`` (via ``local.partial`` and a rename)."""
        dest = Path(local)
        deadline = time.monotonic() + timeout
        partial = dest.with_name(dest.name + ".partial")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, partial.open("wb") as fh:
            for attempt in (1, 2):
                remaining = max(deadline - time.monotonic(), 0.01)
                writer = _DeadlineFile(fh, deadline)
                try:
                    self._connected().pull(remote, writer, transport_timeout_s=remaining, read_timeout_s=remaining)
                    break
                except Exception as exc:
                    if attempt == 1 and isinstance(exc, OSError) and not writer.started:
                        self.close()  # a stale connection: nothing was received, try a fresh one
                        continue
                    fh.close()
                    partial.unlink(missing_ok=True)
                    raise self._transfer_error(exc, f"pull '{remote}' to '{dest}'", timeout) from exc
        os.replace(partial, dest)

    def _transfer_error(self, exc: BaseException, what: str, timeout: float) -> DeviceError:
        from adb_shell import exceptions

        if isinstance(exc, (exceptions.AdbCommandFailureException, exceptions.PushFailedError)):
            return DeviceError(f"device '{self.device}': cannot {what}: {exc}",
                               hint="check the device path, its permissions and free space", device=self.device)
        self.close()
        if isinstance(exc, (_Expired, exceptions.AdbTimeoutError, exceptions.TcpTimeoutException)):
            return DeviceTimeout(f"device '{self.device}': {what} did not finish within {timeout:g} s",
                                 hint="raise the timeout or check the link speed", device=self.device)
        return self._link_error(exc, f"trying to {what}")
