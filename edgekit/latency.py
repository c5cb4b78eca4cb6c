"""What one measurement says about warm latency, whatever its runner printed.

edgekit's runner keeps every warm sample, so the median and its p10–p90 spread are known.
``benchmark_model`` and ``benchmark_litert_model`` print aggregates only, in several formats
over the years (see the formats notes): the newest print a median with p5/p95, older ones an
average with a standard deviation, the oldest an average alone. :func:`summarize` turns each
into one :class:`LatencySummary` — the centre (the median when printed, else the mean) and the
spread the tool gave, each labelled — so reports, CI files and the gate never guess a
percentile nobody measured, and never divide by one that is missing.

``noise_us`` puts every kind of spread on one scale for the gate: the half-width of the middle
80 % of the runs, ``(p90 − p10) / 2`` when samples are kept; for aggregate-only runs it is
derived assuming normally distributed runs (``(p95 − p5) / 2 × z90/z95``, or ``z90 × std``),
and its source is named in the gate's reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from .measurement import LatencyStats, Measurement

__all__ = ["LatencySummary", "summarize", "candidate_fields", "SPREAD_LABELS"]

#: z-scores of the 90th and 95th percentiles of a normal distribution
_Z90 = 1.2815515655446004
_Z95 = 1.6448536269514722
#: how each spread is named in reports (the one list)
SPREAD_LABELS: dict[str, str] = {"p10-p90": "p10–p90", "p5-p95": "p5–p95 (as printed)",
                                 "std": "mean ± std (as printed)", "": "no spread printed"}


@dataclass(frozen=True)
class LatencySummary:
    """Warm latency of one measurement, in microseconds.

    ``statistic`` is ``"median"`` or ``"mean"`` (a tool that printed no median);
    ``spread`` is ``"p10-p90"`` (samples kept), ``"p5-p95"`` or ``"std"`` (as the tool printed
    them) or ``""`` (no spread known); ``low_us``/``high_us`` are its ends (mean ± std for
    ``"std"``).
    """

    centre_us: float
    statistic: str
    spread: str
    low_us: Optional[float]
    high_us: Optional[float]
    count: int
    mean_us: Optional[float] = None
    std_us: Optional[float] = None
    min_us: Optional[float] = None
    max_us: Optional[float] = None
    median_us: Optional[float] = None
    p10_us: Optional[float] = None
    p90_us: Optional[float] = None
    aggregate_only: bool = False
    format: str = ""
    #: 95 % interval of the median: distribution-free from the samples; for aggregate-only runs
    #: approximated from what the tool printed (count and p5/p95 or std), else None (unknown)
    median_ci_lo_us: Optional[float] = None
    median_ci_hi_us: Optional[float] = None
    median_ci_method: str = ""

    @property
    def cv(self) -> Optional[float]:
        if self.std_us is None or not self.mean_us:
            return None
        return self.std_us / self.mean_us

    @property
    def spread_label(self) -> str:
        return SPREAD_LABELS.get(self.spread, self.spread)

    @property
    def noise_us(self) -> Optional[float]:
        """The spread as the half-width of the middle 80 % of runs (see the module docstring)."""
        if self.spread == "p10-p90" and self.p10_us is not None and self.p90_us is not None:
            return max(0.0, (self.p90_us - self.p10_us) / 2.0)
        if self.spread == "p5-p95" and self.low_us is not None and self.high_us is not None:
            return max(0.0, (self.high_us - self.low_us) / 2.0 * _Z90 / _Z95)
        if self.spread == "std" and self.std_us is not None:
            return _Z90 * self.std_us
        return None

    def to_dict(self) -> dict[str, Any]:
        """The results file's ``latency`` entry (``median_us`` None when no median was printed)."""
        d = asdict(self)
        d["cv"] = self.cv
        d["spread_label"] = self.spread_label
        return d


def _f(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def summarize(m: Measurement) -> Optional[LatencySummary]:
    """The latency of ``m``; None when it has none (a failed run, or nothing printed)."""
    raw = m.raw if isinstance(m.raw, dict) else {}
    fmt = str(raw.get("format") or "")
    if m.samples_us:  # the stored statistics are of these samples; older ones lack the median's interval
        st = m.stats if m.stats is not None and m.stats.median_ci_lo is not None \
            else LatencyStats.from_samples(m.samples_us)
        return _from_samples(st, fmt)
    st = m.stats
    aggregate = raw.get("samples_source") == "aggregate"
    if st is not None and not aggregate and st.p10 is not None and st.p90 is not None:
        return _from_samples(st, fmt)
    inference = raw.get("inference") if isinstance(raw.get("inference"), dict) else {}
    median = st.median if st is not None else _f(inference.get("median"))
    mean = st.mean if st is not None else _f(inference.get("avg"))
    if mean is None:
        mean = _f(raw.get("inference_avg_us"))
    std = st.std if st is not None and inference.get("std") is not None else _f(inference.get("std"))
    count = st.count if st is not None else int(inference.get("count") or 0)
    p5, p95 = _f(inference.get("p5")), _f(inference.get("p95"))
    centre = median if median is not None else mean
    if centre is None:
        return None
    if p5 is not None and p95 is not None:
        spread, low, high = "p5-p95", p5, p95
    elif std is not None and mean is not None:
        spread, low, high = "std", mean - std, mean + std
    else:
        spread, low, high = "", None, None
    ci_lo, ci_hi, how = _printed_median_ci(median, count, p5, p95, std)
    return LatencySummary(
        centre_us=float(centre), statistic="median" if median is not None else "mean", spread=spread,
        low_us=low, high_us=high, count=count, mean_us=mean, std_us=std,
        min_us=st.min if st is not None else _f(inference.get("min")),
        max_us=st.max if st is not None else _f(inference.get("max")),
        median_us=median, aggregate_only=True, format=fmt,
        median_ci_lo_us=ci_lo, median_ci_hi_us=ci_hi, median_ci_method=how)


def _printed_median_ci(median: Optional[float], count: int, p5: Optional[float], p95: Optional[float],
                       std: Optional[float]) -> tuple[Optional[float], Optional[float], str]:
    """The median's 95 % interval from a tool's aggregates (normal approximation on the log
    scale, :func:`edgekit.stats.relative_change.median_log_se`), or unknown."""
    import math

    from .stats.relative_change import median_log_se

    if median is None:
        return None, None, "unknown: the tool printed no median"
    summary = {"median": median, "count": count, "p5": p5, "p95": p95, "std": std}
    _, se, how = median_log_se(summary)
    if se is None:
        return None, None, f"unknown: {how}"
    half = 1.959963984540054 * se
    return median * math.exp(-half), median * math.exp(half), f"approximate, from the {how}"


def _from_samples(st: LatencyStats, fmt: str) -> LatencySummary:
    known = st.median_ci_lo is not None and st.median_ci_hi is not None
    return LatencySummary(centre_us=st.median, statistic="median", spread="p10-p90", low_us=st.p10,
                          high_us=st.p90, count=st.count, mean_us=st.mean, std_us=st.std, min_us=st.min,
                          max_us=st.max, median_us=st.median, p10_us=st.p10, p90_us=st.p90, format=fmt,
                          median_ci_lo_us=st.median_ci_lo, median_ci_hi_us=st.median_ci_hi,
                          median_ci_method="order statistics (distribution-free)" if known
                          else "unknown: fewer than 6 samples")


def candidate_fields(m: Measurement) -> dict[str, Any]:
    """The latency of ``m`` as the report's Candidate fields, in ms (None where unknown)."""
    lat = summarize(m)
    if lat is None:
        return {"median_ms": None, "p10_ms": None, "p90_ms": None, "cv": None, "samples": 0}
    us = {"median_ms": lat.median_us, "p10_ms": lat.p10_us, "p90_ms": lat.p90_us, "mean_ms": lat.mean_us,
          "spread_lo_ms": lat.low_us, "spread_hi_ms": lat.high_us,
          "median_ci_lo_ms": lat.median_ci_lo_us, "median_ci_hi_ms": lat.median_ci_hi_us}
    return {**{k: (v / 1000.0 if v is not None else None) for k, v in us.items()}, "cv": lat.cv,
            "samples": lat.count, "latency_stat": lat.statistic, "spread": lat.spread}
