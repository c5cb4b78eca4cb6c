"""edgekit's exceptions, grouped by what the user does next.

Every error carries a message that names the value and the reason, and a ``hint`` with
the next step. The CLI maps them to exit codes in one place (``edgekit.cli.main``).
"""

from __future__ import annotations


class EdgekitError(Exception):
    """Base class: ``str(err)`` is the message, ``err.hint`` the next step."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(EdgekitError):
    """Bad input from the user: a path, a value, a file's contents, a profile, a lab file."""

    exit_code = 2


class ConversionError(EdgekitError):
    """A model could not be converted (or a variant of it)."""

    exit_code = 3


class DeviceError(EdgekitError):
    """A device misbehaved: a command failed, a file could not be moved."""

    exit_code = 4

    def __init__(self, message: str, hint: str | None = None, device: str | None = None) -> None:
        super().__init__(message, hint)
        self.device = device


class DeviceTimeout(DeviceError):
    """A device call did not finish in its time limit."""


class DeviceUnreachable(DeviceError):
    """A device could not be reached, refused authentication, or dropped the connection."""


class RuntimeIncompatible(EdgekitError):
    """The device's runtime cannot load this model (op versions, EdgeTPU runtime version)."""

    exit_code = 5


class MeasurementError(EdgekitError):
    """A run produced no usable measurement (runner crashed, corrupt or missing result)."""

    exit_code = 6


class StoreError(EdgekitError):
    """The results store failed: missing, corrupt, locked too long, read-only, disk full.

    ``rescued`` names the file a measurement was written to when the store could not take
    it (``edgekit store import FILE`` brings it back).
    """

    exit_code = 7

    def __init__(self, message: str, hint: str | None = None, rescued: str | None = None) -> None:
        super().__init__(message, hint)
        self.rescued = rescued


class DuplicateRecord(StoreError):
    """A record with this id is already stored (results are append-only); nothing is lost."""


__all__ = [
    "EdgekitError",
    "ConfigError",
    "ConversionError",
    "DeviceError",
    "DeviceTimeout",
    "DeviceUnreachable",
    "RuntimeIncompatible",
    "MeasurementError",
    "StoreError",
    "DuplicateRecord",
]
