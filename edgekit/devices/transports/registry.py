"""The transports, by name: the only list of them.

A transport is one module with a :class:`~edgekit.devices.transports.base.Transport`
subclass that has ``from_profile(profile)`` (build it from a device profile) and
``address(profile)`` (where the device is reached), plus one entry here. Profiles, lab
files and the factory read their names from :data:`TRANSPORTS`; modules are imported only
when a profile asks for them (paramiko, adb-shell and adbutils stay unloaded otherwise).
"""

from __future__ import annotations

import importlib
from typing import Any

#: name → "module:class"
TRANSPORTS: dict[str, str] = {
    "local": "edgekit.devices.transports.local:LocalTransport",
    "ssh": "edgekit.devices.transports.ssh:SshTransport",
    "adb": "edgekit.devices.transports.adb:AdbTransport",
    "adb-server": "edgekit.devices.transports.adb_server:AdbServerTransport",
}

#: transports that reach phones through adb (their devices report ``ro.serialno``)
ADB_TRANSPORTS: frozenset[str] = frozenset({"adb", "adb-server"})


def transport_class(name: str) -> Any:
    """The class registered as ``name`` (KeyError for an unknown name)."""
    module, _, cls = TRANSPORTS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
