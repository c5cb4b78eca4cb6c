"""Transports: how bytes and commands reach a device.

The classes are imported lazily (PEP 562), so ``import edgekit`` does not import
paramiko, adb-shell or adbutils; only the transport a profile asks for is loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from edgekit.devices.transports.base import Completed, Transport

if TYPE_CHECKING:
    from edgekit.devices.transports.adb import AdbTransport
    from edgekit.devices.transports.adb_server import AdbServerTransport
    from edgekit.devices.transports.local import LocalTransport
    from edgekit.devices.transports.ssh import SshTransport

__all__ = [
    "Completed",
    "Transport",
    "LocalTransport",
    "SshTransport",
    "AdbTransport",
    "AdbServerTransport",
]

_LAZY = {
    "LocalTransport": "edgekit.devices.transports.local",
    "SshTransport": "edgekit.devices.transports.ssh",
    "AdbTransport": "edgekit.devices.transports.adb",
    "AdbServerTransport": "edgekit.devices.transports.adb_server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
