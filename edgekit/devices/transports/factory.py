"""Build the transport a profile asks for, from the registry (:mod:`.registry`)."""

from __future__ import annotations

from ...errors import ConfigError
from ..profile import DeviceProfile
from .base import Transport
from .hostport import split_host_port
from .registry import TRANSPORTS, transport_class

__all__ = ["make_transport", "split_host_port", "transport_address"]


def _class(profile: DeviceProfile) -> type:
    if profile.transport not in TRANSPORTS:
        raise ConfigError(f"device '{profile.name}': unknown transport {profile.transport!r}",
                          hint=f"transports: {', '.join(TRANSPORTS)}")
    return transport_class(profile.transport)


def make_transport(profile: DeviceProfile) -> Transport:
    """The transport of ``profile`` (one of :data:`~.registry.TRANSPORTS`)."""
    return _class(profile).from_profile(profile)


def transport_address(profile: DeviceProfile) -> str:
    """Where ``profile``'s device is reached, e.g. ``ssh:pi@10.0.0.21:22`` (no connection made)."""
    return _class(profile).address(profile)
