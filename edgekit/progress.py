"""Progress reporting: the library calls a callback; the CLI renders it.

A callback receives :class:`ProgressEvent` objects. ``total`` is None for an
indeterminate step. The library never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class ProgressEvent:
    """One step of work: ``stage`` (e.g. "convert"), ``item`` (e.g. "int8"), ``done``/``total``."""

    stage: str
    item: str
    done: int
    total: Optional[int]
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    """The default callback: does nothing."""


def report(callback: Optional[ProgressCallback], stage: str, item: str, done: int,
           total: Optional[int], message: str = "") -> None:
    """Send one event to ``callback`` if there is one."""
    if callback is not None:
        callback(ProgressEvent(stage, item, done, total, message))
