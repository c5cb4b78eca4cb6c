"""The report's types: a candidate (one model variant, measured on one device or
device-independent), a failed run, a device summary, the quality scale and everything
collected (:class:`ReportData`). :mod:`.collect` fills them from a results store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from ..measurement import DOUBTFUL_FLAGS

_ACCURACY_METRICS = ("top1", "top5", "accuracy", "acc")


def _pair(lo: Optional[float], hi: Optional[float]) -> Optional[tuple[float, float]]:
    """``(lo, hi)``, or None when either end is unknown."""
    return None if lo is None or hi is None else (lo, hi)


@dataclass(frozen=True)
class Candidate:
    """One model variant, measured on one device (or device-independent when ``device`` is None)."""

    artifact_sha256: str
    artifact_name: str
    model: str
    variant: str
    size_bytes: int
    family: str = ""
    width: Optional[float] = None
    recipe: str = ""
    params: Optional[int] = None
    quality: Optional[float] = None                     # the chosen metric
    qualities: dict[str, float] = field(default_factory=dict)  # every metric (its chosen dataset)
    device: Optional[str] = None
    median_ms: Optional[float] = None
    p10_ms: Optional[float] = None
    p90_ms: Optional[float] = None
    cv: Optional[float] = None
    samples: int = 0
    flags: tuple[str, ...] = ()
    runs: int = 0                                       # ok measurements of this (artifact, device)
    measurement_id: str = ""
    measured_at: float = 0.0
    threads: Optional[int] = None
    #: aggregate-only runs may lack a median and p10/p90: see edgekit.latency and report/spread.py
    mean_ms: Optional[float] = None
    latency_stat: str = "median"
    spread: str = "p10-p90"
    spread_lo_ms: Optional[float] = None
    spread_hi_ms: Optional[float] = None
    delegate: str = "cpu"
    #: 95 % intervals: of the median latency (edgekit.latency) and of the quality (Wilson, from
    #: the number of test samples); None where unknown
    median_ci_lo_ms: Optional[float] = None
    median_ci_hi_ms: Optional[float] = None
    quality_ci_lo: Optional[float] = None
    quality_ci_hi: Optional[float] = None
    #: the measurement's sessions (``edgekit deploy --repeat N``, lab A/B jobs): median_us,
    #: started_at, finished_at (and pair); speed-ups between interleaved ones are paired
    sessions: tuple[dict[str, Any], ...] = ()
    #: the paper family's channel rounding (None: not recorded) and its conv/dense widths
    channel_multiple: Optional[int] = None
    channels: tuple[int, ...] = ()
    #: a predicted point (``median_ms`` is the prediction, never a measurement): its interval
    #: (``interval_level`` coverage, from the device's predictor), and why it may be stale
    predicted: bool = False
    interval_lo_ms: Optional[float] = None
    interval_hi_ms: Optional[float] = None
    interval_level: Optional[float] = None
    prediction_warnings: tuple[str, ...] = ()

    @property
    def interval_ms(self) -> Optional[tuple[float, float]]:
        """A predicted point's interval (None for measured points)."""
        return _pair(self.interval_lo_ms, self.interval_hi_ms)

    @property
    def stale(self) -> bool:
        return bool(self.prediction_warnings)

    @property
    def latency_ms(self) -> Optional[float]:
        """The latency that ranks this candidate: its median, else (no median printed) its mean."""
        return self.median_ms if self.median_ms is not None else self.mean_ms

    @property
    def median_ci_ms(self) -> Optional[tuple[float, float]]:
        return _pair(self.median_ci_lo_ms, self.median_ci_hi_ms)

    @property
    def quality_ci(self) -> Optional[tuple[float, float]]:
        return _pair(self.quality_ci_lo, self.quality_ci_hi)

    @property
    def size_kb(self) -> float:
        return self.size_bytes / 1024.0

    @property
    def label(self) -> str:
        """``model · variant`` (``· delegate`` when not the CPU), the name a person reads."""
        base = f"{self.model} · {self.variant}"
        return base if self.delegate in ("cpu", "edgetpu") else f"{base} · {self.delegate}"

    @property
    def flagged(self) -> bool:
        return any(f in DOUBTFUL_FLAGS for f in self.flags)

    @property
    def key(self) -> tuple[str, Optional[str], str]:
        return (self.artifact_sha256, self.device, self.delegate)


@dataclass(frozen=True)
class FailedRun:
    """A measurement that failed: shown in its own list, never used as a point."""

    artifact_sha256: str
    artifact_name: str
    model: str
    variant: str
    device: str
    error: str
    at: float
    measurement_id: str


@dataclass(frozen=True)
class DeviceSummary:
    """A device that appears in the store, with the facts of its latest measurement."""

    name: str
    profile: str
    runner: str
    runner_version: str
    facts: dict[str, Any]
    ok: int
    failed: int
    flagged: int
    threads: tuple[int, ...] = ()


@dataclass(frozen=True)
class QualityScale:
    """How to show a quality metric: ``value * factor`` followed by ``suffix``."""

    metric: str
    factor: float
    suffix: str

    def show(self, value: Optional[float], digits: int = 2) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return f"{value * self.factor:.{digits}f}{self.suffix}"

    @property
    def axis_label(self) -> str:
        return f"{self.metric} ({'%' if self.suffix == '%' else 'value'}, higher is better)"


@dataclass
class ReportData:
    """Everything the report shows, read from one store."""

    store_path: str
    metric: str
    dataset: str
    scale: QualityScale
    policy: str
    models: list[Candidate]          # one per artifact, device None
    candidates: list[Candidate]      # one per (artifact, device) with an ok measurement
    failed: list[FailedRun]
    devices: dict[str, DeviceSummary]
    measurements_total: int
    superseded: int
    metrics_available: list[str]
    notes: list[str] = field(default_factory=list)
    #: predicted points (never in ``candidates``, so never in a frontier or recommendation)
    predicted: list[Candidate] = field(default_factory=list)
    #: artifact sha256 → its file, as recorded (to predict the artifacts a device has not run)
    artifact_paths: dict[str, str] = field(default_factory=dict)

    def for_device(self, device: str) -> list[Candidate]:
        return [c for c in self.candidates if c.device == device]

    def predicted_for(self, device: str) -> list[Candidate]:
        return [c for c in self.predicted if c.device == device]

    @property
    def predicted_devices(self) -> list[str]:
        return list(dict.fromkeys(c.device for c in self.predicted if c.device))
