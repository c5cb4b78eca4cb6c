"""Build the transport a profile asks for (imports each transport only when needed)."""

from __future__ import annotations

import getpass

from ...errors import ConfigError
from ..profile import DeviceProfile
from .base import Transport

__all__ = ["make_transport", "split_host_port"]


def split_host_port(text: str, default_port: int, what: str) -> tuple[str, int]:
    """``"10.0.0.5:5555"`` → ``("10.0.0.5", 5555)``; ``"host"`` → ``("host", default_port)``."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not host:port") from None


def make_transport(profile: DeviceProfile) -> Transport:
    """The transport of ``profile``: ``local`` | ``ssh`` | ``adb`` | ``adb-server``."""
    c = profile.connection
    name = profile.name
    if profile.transport == "local":
        from .local import LocalTransport

        return LocalTransport(device=name)
    if profile.transport == "ssh":
        from .ssh import SshTransport

        if not c.host:
            raise ConfigError(f"device '{name}': transport ssh needs connection.host",
                              hint="set [connection] host, or pass --host")
        return SshTransport(device=name, host=c.host, user=c.user or getpass.getuser(), port=c.port or 22,
                            key_path=c.key or None, known_hosts=c.known_hosts or None,
                            insecure_accept_host_key=c.insecure_accept_host_key)
    if profile.transport == "adb":
        from .adb import AdbTransport

        host = c.host or None
        port = c.port or 5555
        serial = c.serial or None
        if host is None and serial and ":" in serial:  # "192.168.1.20:5555" is ADB over TCP
            host, port = split_host_port(serial, 5555, f"device '{name}': connection.serial")
            serial = None
        if host is None and serial is None:
            raise ConfigError(f"device '{name}': transport adb needs connection.host (ADB over TCP) "
                              "or connection.serial (USB)",
                              hint="`adb devices` lists serials; pass --serial or --host")
        return AdbTransport(device=name, serial=serial, host=host, port=port, key_path=c.key or None)
    if profile.transport == "adb-server":
        from .adb_server import AdbServerTransport

        server_host, server_port = split_host_port(c.server or "127.0.0.1:5037", 5037,
                                                   f"device '{name}': connection.server")
        if not c.serial:
            raise ConfigError(f"device '{name}': transport adb-server needs connection.serial",
                              hint="`adb devices` on the server host lists them; pass --serial")
        return AdbServerTransport(device=name, serial=c.serial, server_host=server_host or "127.0.0.1",
                                  server_port=server_port)
    raise ConfigError(f"device '{name}': unknown transport {profile.transport!r}")
