"""``host:port`` as users write it (``adb connect 10.0.0.5:5555``, ``[::1]:2222``)."""

from __future__ import annotations

from edgekit.errors import ConfigError


def split_host_port(text: str, default_port: int, what: str) -> tuple[str, int]:
    """``"10.0.0.5:5555"`` → ``("10.0.0.5", 5555)``; ``"host"`` → ``("host", default_port)``;
    ``"[::1]:22"`` → ``("::1", 22)``; a bare IPv6 address keeps the default port."""
    if text.startswith("[") and "]" in text:
        host, _, rest = text[1:].partition("]")
        if not rest:
            return host, default_port
        if not rest.startswith(":"):
            raise ConfigError(f"{what} {text!r} is not host:port", hint="write [ADDRESS]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a name, an IPv4 address, or a bare IPv6 address
        return text, default_port
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not host:port",
                          hint="write HOST or HOST:PORT, e.g. 192.168.1.20:5555") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{what} {text!r}: port {port} is out of range", hint="ports are 1–65535")
    return host, port
