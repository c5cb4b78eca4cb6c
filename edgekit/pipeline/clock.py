"""Stage bookkeeping: timing, counts of what ran / was cached / failed, progress forwarding."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import ConfigError
from ..progress import ProgressCallback, ProgressEvent, report

LOG = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("dataset", "teacher", "train", "convert", "evaluate", "measure", "report")


@dataclass(frozen=True)
class StageTiming:
    """What one stage did: wall seconds, items it ran, items it found cached, items failed."""

    name: str
    seconds: float
    ran: int = 0
    cached: int = 0
    failed: int = 0

    @property
    def status(self) -> str:
        if self.failed and not self.ran and not self.cached:
            return "failed"
        if not self.ran and not self.cached and not self.failed:
            return "skipped"
        if not self.ran:
            return "cached"
        return "ran" if not self.cached else "ran (part cached)"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": round(self.seconds, 3), "ran": self.ran,
                "cached": self.cached, "failed": self.failed, "status": self.status}


class StageClock:
    """Times one stage and counts what it ran, found cached, or failed."""

    def __init__(self, name: str, progress: Optional[ProgressCallback]) -> None:
        self.name = name
        self.progress = progress
        self.ran = 0
        self.cached = 0
        self.failed = 0
        self._t0 = time.perf_counter()

    def event(self, item: str, done: int, total: Optional[int], message: str = "") -> None:
        report(self.progress, self.name, item, done, total, message)

    def finish(self) -> StageTiming:
        t = StageTiming(self.name, time.perf_counter() - self._t0, self.ran, self.cached, self.failed)
        LOG.info("stage %s: %s in %.1f s (ran %d, cached %d, failed %d)", t.name, t.status, t.seconds,
                 t.ran, t.cached, t.failed)
        return t


def forward(progress: Optional[ProgressCallback], stage: str, offset: int, total: int,
            prefix: str = "") -> Optional[ProgressCallback]:
    """A callback that re-labels another API's events as ``stage`` events, counting from
    ``offset`` of ``total`` (an inner event's ``done`` adds to the offset)."""
    if progress is None:
        return None

    def callback(ev: ProgressEvent) -> None:
        item = ev.item if not prefix or ev.item.startswith(prefix) else f"{prefix} {ev.item}"
        progress(ProgressEvent(stage, item, min(total, offset + ev.done), total, ev.message))

    return callback


def require(condition: bool, message: str, hint: str) -> None:
    """Raise a ConfigError unless ``condition``."""
    if not condition:
        raise ConfigError(message, hint=hint)
