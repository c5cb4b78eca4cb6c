"""Latency measurements: every warm sample kept, statistics derived from them."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional, Sequence

#: a run with samples whose coefficient of variation exceeds this, while its median is certain,
#: is flagged "outliers" (a few slow runs — preemption, another process — inflate the CV; the
#: median stands). For aggregate-only runs (no samples, no median interval) a CV above this is
#: "noisy" when p10–p90 is wider than HIGH_SPREAD × median (or unknown), else "outliers".
HIGH_CV = 0.10
HIGH_SPREAD = 0.10
#: a run whose median's 95 % interval is wider than ± this fraction of the median is "noisy"
#: (the median is uncertain); single slow samples alone do not make a run noisy
NOISY_CI_FRACTION = 0.03
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
    #: distribution-free 95 % confidence interval of the median (order statistics); None when
    #: the samples are too few (< 6) or the run kept none (aggregate-only)
    median_ci_lo: Optional[float] = None
    median_ci_hi: Optional[float] = None
    p90_ci_lo: Optional[float] = None
    p90_ci_hi: Optional[float] = None

    @classmethod
    def from_samples(cls, samples_us: Sequence[float]) -> "LatencyStats":
        if len(samples_us) == 0:
            raise ValueError("no samples")
        import numpy as np  # here, not at import: `edgekit --help` must stay fast

        from .stats.quantile_ci import quantile_ci

        arr = np.sort(np.asarray(samples_us, dtype=np.float64))
        s = arr.tolist()
        n = len(s)
        mean = float(arr.mean())
        std = float(arr.std(ddof=1)) if n > 1 else 0.0
        ci = [quantile_ci(arr, q, 0.95, strict=True) for q in (0.5, 0.9)]
        finite = [tuple(float(v) if math.isfinite(v) else None for v in c) for c in ci]
        return cls(
            count=n, min=s[0], mean=mean, median=percentile(s, 50), p10=percentile(s, 10),
            p90=percentile(s, 90), p99=percentile(s, 99), max=s[-1], std=std,
            cv=(std / mean) if mean > 0 else 0.0,
            median_ci_lo=finite[0][0], median_ci_hi=finite[0][1], p90_ci_lo=finite[1][0], p90_ci_hi=finite[1][1],
        )

    @property
    def median_ci_halfwidth(self) -> Optional[float]:
        """Half the width of the median's 95 % interval, relative to the median (None: unknown)."""
        if self.median_ci_lo is None or self.median_ci_hi is None or not self.median:
            return None
        return (self.median_ci_hi - self.median_ci_lo) / 2.0 / self.median

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatencyStats":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


#: the delegates a run can ask for (the one list; profiles name the ones a device has)
DELEGATES: tuple[str, ...] = ("cpu", "xnnpack", "edgetpu", "gpu", "nnapi", "hexagon")


def _setting(default: Any, flag: str, help: str, minimum: Optional[float] = None,  # noqa: A002
             choices: tuple[str, ...] = (), positive: bool = False) -> Any:
    """A RunSettings field with what the CLI option, lab files and pipeline files derive from it."""
    return field(default=default, metadata={"flag": flag, "help": help, "minimum": minimum,
                                            "positive": positive, "choices": choices})


@dataclass(frozen=True)
class RunSettings:
    """How a model was measured. Defaults follow the paper: warm, single thread.

    This class is the one vocabulary of run settings: ``edgekit deploy``'s options, a lab
    file's ``[defaults]`` / ``[[job]]`` keys and a pipeline file's ``[measure]`` keys are all
    derived from its fields (:func:`settings_from_mapping` checks them the same way).
    """

    threads: int = _setting(1, "--threads", "Interpreter threads.", positive=True)
    warmup_runs: int = _setting(10, "--warmup", "Warm-up runs, at least.", minimum=0)
    warmup_seconds: float = _setting(0.5, "--warmup-seconds", "Warm-up lasts at least S s.", minimum=0)
    runs: int = _setting(50, "--runs", "Timed runs, at least.", positive=True)
    min_seconds: float = _setting(1.0, "--min-seconds", "Timed phase lasts at least S s.", minimum=0)
    max_seconds: float = _setting(150.0, "--max-seconds", "Stop the runs after S s.", positive=True)
    pin: bool = _setting(True, "--pin/--no-pin", "Pin to one big core where the OS allows.")
    cooldown_seconds: float = _setting(0.0, "--cooldown", "Pause S s before each model.", minimum=0)
    delegate: str = _setting("cpu", "--delegate", "Delegate.", choices=DELEGATES)
    repeat: int = _setting(1, "--repeat", "Sessions per model, interleaved across models (A B A B …); "
                           "the sessions' medians decide stability.", positive=True)
    stability_tolerance: float = _setting(0.05, "--stability-tolerance", "Sessions are stable when all medians "
                                          "are within this fraction of each other (MLPerf Mobile: 0.05).",
                                          positive=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSettings":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


SETTING_FIELDS: dict[str, Any] = {f.name: f for f in fields(RunSettings)}
_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def settings_from_mapping(values: dict[str, Any], where: str, base: Optional[RunSettings] = None) -> RunSettings:
    """``base`` (default: the paper's protocol) with ``values`` applied, each checked.

    Raises:
        ConfigError: an unknown key, a value of the wrong kind, out of range, or not a choice.
    """
    from .errors import ConfigError

    out = (base or RunSettings()).to_dict()
    for key, value in values.items():
        f = SETTING_FIELDS.get(key)
        if f is None:
            raise ConfigError(f"{where}: unknown run setting '{key}' (value {value!r})",
                              hint=f"run settings: {', '.join(SETTING_FIELDS)}")
        kind = type(f.default)
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if ok and kind is float and not math.isfinite(value):
            ok = False
        meta = f.metadata
        if ok and meta["choices"] and value not in meta["choices"]:
            raise ConfigError(f"{where}: {key} = {value!r} is not valid",
                              hint=f"{key} must be one of: {', '.join(meta['choices'])}")
        if not ok:
            raise ConfigError(f"{where}: {key} = {value!r} is not valid", hint=f"{key} must be {_KIND_WORDS[kind]}")
        if kind is not bool and kind is not str:
            if meta["positive"] and value <= 0:
                raise ConfigError(f"{where}: {key} = {value!r} is not valid", hint=f"{key} must be greater than 0")
            if meta["minimum"] is not None and value < meta["minimum"]:
                raise ConfigError(f"{where}: {key} = {value!r} is not valid", hint=f"{key} must be zero or more")
        out[key] = value
    return RunSettings(**out)


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
    flags: tuple[str, ...] = ()                  # "noisy", "heated", "throttled", "few-samples", "emulated"
    status: str = "ok"                           # ok | failed
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    artifact_variant: str = ""
    size_bytes: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    raw: dict[str, Any] = field(default_factory=dict)     # runner-specific extras (op profile…)
    #: with ``RunSettings.repeat`` > 1: one entry per session (median_us, median CI, count,
    #: started_at, finished_at), in the order they ran, and the sessions' stability verdict
    sessions: tuple[dict[str, Any], ...] = ()
    stability: dict[str, Any] = field(default_factory=dict)

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
        kw["sessions"] = tuple(d.get("sessions") or ())
        return cls(**kw)


def quality_flags(stats: Optional[LatencyStats], temps_before: dict[str, float],
                  temps_after: dict[str, float], throttled: bool = False,
                  min_samples: int = 10, emulated: bool = False) -> tuple[str, ...]:
    """Flags that say a measurement should not be trusted blindly (``emulated``: the device's
    CPU was emulated, so its latencies say nothing about the real hardware)."""
    flags: list[str] = []
    if stats is not None:
        half = stats.median_ci_halfwidth
        if half is not None:
            # noisy = the median itself is uncertain; a high CV with a tight median is "outliers"
            if half > NOISY_CI_FRACTION:
                flags.append("noisy")
            elif stats.cv > HIGH_CV:
                flags.append("outliers")
        elif stats.cv is not None and stats.cv > HIGH_CV:
            known = stats.p10 is not None and stats.p90 is not None and stats.median
            # aggregate-only runs (benchmark_model) have no samples: the spread is all there is
            spread = (stats.p90 - stats.p10) / stats.median if known else float("inf")
            flags.append("noisy" if spread > HIGH_SPREAD else "outliers")
        if stats.count < min_samples:
            flags.append("few-samples")
    rises = [temps_after[k] - temps_before[k] for k in temps_before if k in temps_after]
    if rises and max(rises) > HEAT_RISE_C:
        flags.append("heated")
    if throttled:
        flags.append("throttled")
    if emulated:
        flags.append("emulated")
    return tuple(flags)


#: flags that cast doubt on a measurement's median (reports mark these runs; "outliers" and
#: "aggregate-only" are information, not doubt)
DOUBTFUL_FLAGS: frozenset[str] = frozenset({"noisy", "heated", "throttled", "few-samples", "unstable"})


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
