"""Serving the dashboard with uvicorn, safely by default.

:class:`DashboardServer` checks everything before serving: the store exists, the address
is loopback or a token is set (``--token`` or ``$EDGEKIT_DASHBOARD_TOKEN``), and the port
is free — it binds the socket itself (so ``port=0`` picks a free one and :attr:`url` tells
which) and hands it to uvicorn, whose logs go to :mod:`logging` (it never prints).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ...errors import ConfigError, StoreError
from ...store import Store, open_store

if TYPE_CHECKING:
    from .app import ReportRenderer

log = logging.getLogger(__name__)

TOKEN_ENV = "EDGEKIT_DASHBOARD_TOKEN"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(token: Optional[str], host: str) -> Optional[str]:
    """The token to require: ``token``, else ``$EDGEKIT_DASHBOARD_TOKEN``; refuses a
    non-loopback ``host`` without one."""
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    token = token.strip() if token else None
    if token is not None and len(token) < 8:
        raise ConfigError(f"the dashboard token is {len(token)} characters long; it needs at least 8",
                          hint="generate one: python -c 'import secrets; print(secrets.token_urlsafe(24))'")
    if not token and not is_loopback(host):
        raise ConfigError(f"refusing to serve the dashboard on {host} without a token: anyone who reaches that "
                          f"address could read the lab's results",
                          hint=f"pass --token TOKEN (or set ${TOKEN_ENV}), or bind --host 127.0.0.1 and reach it "
                               f"through an SSH tunnel")
    return token


def open_dashboard_store(store: Optional[str]) -> Store:
    """The store to show; a SQLite file must already exist (the dashboard never creates one)."""
    try:
        opened = open_store(store, must_exist=True)
    except StoreError as err:
        raise ConfigError(f"no results store to show: {err.message}",
                          hint="pass --store with the store a lab writes to (its lab file's [lab] store, e.g. "
                               ".edgekit/results.sqlite, or a postgresql:// URL)") from err
    if opened is None:
        raise ConfigError("the dashboard needs a results store", hint="pass --store PATH or URL")
    return opened


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ConfigError(f"--host {host!r} is not an address of this machine ({err.strerror})",
                          hint="use 127.0.0.1 (the default), or an address this host has") from err
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use",
                              hint=f"pass another --port (e.g. {port + 1}), or --port 0 for any free one") from err
        if err.errno in (errno.EACCES, errno.EPERM):
            raise ConfigError(f"not allowed to listen on {host}:{port} ({err.strerror})",
                              hint="use a port above 1024") from err
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror}",
                          hint="check --host and --port") from err
    sock.set_inheritable(True)
    return sock


class DashboardServer:
    """A bound, checked dashboard; :meth:`serve` runs it until interrupted."""

    def __init__(self, store: Optional[str], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 token: Optional[str] = None, cache_dir: Optional[Path] = None, poll_seconds: float = 2.0,
                 report_renderer: Optional["ReportRenderer"] = None) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"--port {port} is not a port number", hint="use 1–65535, or 0 for any free port")
        if poll_seconds <= 0:
            raise ConfigError(f"poll interval {poll_seconds:g} s is not positive", hint="use e.g. 2")
        self.token = resolve_token(token, host)
        self.store = open_dashboard_store(store)
        self.host = host
        self.sock = bind(host, port)
        self.port = int(self.sock.getsockname()[1])
        from .app import create_app

        self._own_cache = None if cache_dir else tempfile.TemporaryDirectory(prefix="edgekit-dashboard-")
        self.app = create_app(self.store, self.token, Path(cache_dir or self._own_cache.name), poll_seconds,
                              report_renderer)

    @property
    def url(self) -> str:
        """Where the dashboard is (without the token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve(self) -> None:
        """Serve until SIGINT/SIGTERM (uvicorn's handlers); closes the socket and the store."""
        import uvicorn

        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        log.info("dashboard of %s on %s", self.store.location, self.url)
        try:
            server.run(sockets=[self.sock])
        finally:
            self.sock.close()
            self.store.close()
            if self._own_cache is not None:
                self._own_cache.cleanup()
