"""Latency measurements: every warm sample kept, statistics derived from them."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

#: a run whose coefficient of variation exceeds this is flagged: "noisy" when the bulk of its
#: runs spreads too (p10–p90 wider than HIGH_SPREAD × median), else "outliers" (a few slow
#: runs — preemption, another process — inflate the CV while the median is unaffected)
HIGH_CV = 0.10
HIGH_SPREAD = 0.10
#: a device that warmed up by more than this many °C during a run is flagged "heated"
HEAT_RISE_C = 5.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


@dataclass(frozen=True)
class LatencyStats:
    """Statistics of warm per-run samples, in microseconds."""

    count: int
    min: float
    mean: float
    median: float
    p10: float
    p90: float
    p99: float
    max: float
    std: float
    cv: float

    @classmethod
    def from_samples(cls, samples_us: Sequence[float]) -> "LatencyStats":
        if not samples_us:
            raise ValueError("no samples")
        s = sorted(float(x) for x in samples_us)
        n = len(s)
        mean = sum(s) / n
        var = sum((x - mean) ** 2 for x in s) / (n - 1) if n > 1 else 0.0
        std = math.sqrt(var)
        return cls(
            count=n, min=s[0], mean=mean, median=percentile(s, 50), p10=percentile(s, 10),
            p90=percentile(s, 90), p99=percentile(s, 99), max=s[-1], std=std,
            cv=(std / mean) if mean > 0 else 0.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatencyStats":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RunSettings:
    """How a model was measured. Defaults follow the paper: warm, single thread."""

    threads: int = 1
    warmup_runs: int = 10
    warmup_seconds: float = 0.5
    runs: int = 50
    min_seconds: float = 1.0
    max_seconds: float = 150.0
    pin: bool = True                  # pin to one big core where the OS allows
    cooldown_seconds: float = 0.0     # pause before the run (between models)
    delegate: str = "cpu"             # cpu | xnnpack | edgetpu | gpu | nnapi

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSettings":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Measurement:
    """One model measured on one device, with every sample and the device's state."""

    artifact_sha256: str
    artifact_name: str
    device: str                                  # the device's name (profile or lab device)
    profile: str
    runner: str                                  # "edgekit-runner" | "benchmark_model" | ...
    runner_version: str
    settings: RunSettings
    samples_us: tuple[float, ...]
    stats: Optional[LatencyStats]
    init_us: Optional[float] = None
    first_inference_us: Optional[float] = None
    warmup_samples_us: tuple[float, ...] = ()
    peak_memory_kb: Optional[float] = None
    facts: dict[str, Any] = field(default_factory=dict)   # model, soc, abi, os, kernel, governor, freqs, temps, runtime
    pinned_cpu: Optional[str] = None
    flags: tuple[str, ...] = ()                  # "noisy", "heated", "throttled", "few-samples"
    status: str = "ok"                           # ok | failed
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    artifact_variant: str = ""
    size_bytes: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    raw: dict[str, Any] = field(default_factory=dict)     # runner-specific extras (op profile…)

    @property
    def median_ms(self) -> Optional[float]:
        return self.stats.median / 1000.0 if self.stats else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["settings"] = self.settings.to_dict()
        d["stats"] = self.stats.to_dict() if self.stats else None
        d["samples_us"] = list(self.samples_us)
        d["warmup_samples_us"] = list(self.warmup_samples_us)
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Measurement":
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["settings"] = RunSettings.from_dict(d.get("settings") or {})
        kw["stats"] = LatencyStats.from_dict(d["stats"]) if d.get("stats") else None
        kw["samples_us"] = tuple(d.get("samples_us") or ())
        kw["warmup_samples_us"] = tuple(d.get("warmup_samples_us") or ())
        kw["flags"] = tuple(d.get("flags") or ())
        return cls(**kw)


def quality_flags(stats: Optional[LatencyStats], temps_before: dict[str, float],
                  temps_after: dict[str, float], throttled: bool = False,
                  min_samples: int = 10) -> tuple[str, ...]:
    """Flags that say a measurement should not be trusted blindly."""
    flags: list[str] = []
    if stats is not None:
        if stats.cv > HIGH_CV:
            known = stats.p10 is not None and stats.p90 is not None and stats.median
            # aggregate-only runs (benchmark_model) have no percentiles: the CV is all there is
            spread = (stats.p90 - stats.p10) / stats.median if known else float("inf")
            flags.append("noisy" if spread > HIGH_SPREAD else "outliers")
        if stats.count < min_samples:
            flags.append("few-samples")
    rises = [temps_after[k] - temps_before[k] for k in temps_before if k in temps_after]
    if rises and max(rises) > HEAT_RISE_C:
        flags.append("heated")
    if throttled:
        flags.append("throttled")
    return tuple(flags)


#: flags that cast doubt on a measurement's median (reports mark these runs; "outliers" and
#: "aggregate-only" are information, not doubt)
DOUBTFUL_FLAGS: frozenset[str] = frozenset({"noisy", "heated", "throttled", "few-samples"})


@dataclass(frozen=True)
class QualityRecord:
    """The quality of one artifact on one dataset."""

    artifact_sha256: str
    variant: str
    dataset: str            # e.g. "digits-test:sha256[:12]"
    metric: str             # top1 | top5 | ...
    value: float
    samples: int
    created: float = 0.0
    model: str = ""         # family member / source model name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QualityRecord":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
