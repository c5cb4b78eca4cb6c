"""The relative change of a median, ``median_new / median_base − 1``, with an interval.

From samples (:func:`median_difference_ci`): the ratio-of-medians interval of
:mod:`edgekit.stats.ratio` (bootstrap for small sets, order statistics for large ones)
shifted by −1; the bounds transform exactly because ``x ↦ x − 1`` is monotone.

From summaries only (:func:`relative_change_from_summary`), for runners that report
aggregates (``benchmark_model`` on phones): each median's standard error is
approximated, then the log-ratio is treated as normal (as in the order-statistic
method). The approximation, in order of preference:

1. a central percentile pair ``(p_lo, p_hi)`` — p10/p90, p5/p95, p25/p75: assumes the
   density near the median is at least the average density between the two
   percentiles, ``f(m) ≥ (hi% − lo%) / (p_hi − p_lo)``; then ``se ≈ 1 / (2 f(m) √n)``
   (the median's asymptotic variance ``1/(4 n f(m)²)``). Latency distributions peak at
   the median, so this over-states ``se``: conservative (wider interval).
2. ``std``: ``se ≈ 1.2533 · std / √n`` (exact for normal samples); a long right tail
   inflates ``std``, so again conservative for latency.

Without ``count`` and a spread, the result is :meth:`Estimate.unknown` — say "cannot
tell" rather than guess.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from edgekit.stats.estimate import Estimate, as_samples, check_level, z_two_sided
from edgekit.stats.ratio import Method, ratio_of_medians_ci

#: percentile pairs tried in order, with the probability mass between them
_PERCENTILE_PAIRS = (("p10", "p90", 0.80), ("p5", "p95", 0.90), ("p25", "p75", 0.50))


def median_difference_ci(base_samples: Any, new_samples: Any, level: float = 0.95, method: Method = "auto",
                         resamples: int = 2000, seed: int = 0) -> Estimate:
    """``median(new) / median(base) − 1`` (e.g. +0.10 = 10 % slower) with a ``level`` interval.

    Args:
        base_samples, new_samples: positive samples (µs) of the baseline and the new run.
        level, method, resamples, seed: as for :func:`edgekit.stats.ratio.ratio_of_medians_ci`.
    """
    ratio = ratio_of_medians_ci(new_samples, base_samples, level, method, resamples, seed)
    if ratio.lo is None or ratio.hi is None:
        reason = ratio.method.removeprefix("unknown: ")
        return Estimate.unknown(reason, ratio.value - 1.0, ratio.level)  # type: ignore[operator]
    return Estimate(ratio.value - 1.0, ratio.lo - 1.0, ratio.hi - 1.0,  # type: ignore[operator]
                    ratio.level, ratio.method)


def _field(summary: Mapping[str, Any], name: str) -> Optional[float]:
    """``summary[name]`` or ``summary[name + '_us']`` as a finite float, else None."""
    for key in (name, f"{name}_us"):
        value = summary.get(key)
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    return None


def median_log_se(summary: Mapping[str, Any]) -> tuple[Optional[float], Optional[float], str]:
    """``(median, se of log(median), how)`` from a summary; ``(…, None, reason)`` when impossible.

    Keys read (each also with a ``_us`` suffix): ``median``, ``count``, then ``p10``/``p90``,
    ``p5``/``p95``, ``p25``/``p75`` or ``std`` (see the module docstring).
    """
    median, count = _field(summary, "median"), _field(summary, "count")
    if median is None or median <= 0:
        return None, None, "no positive median in the summary"
    ci_lo, ci_hi = _field(summary, "median_ci_lo"), _field(summary, "median_ci_hi")
    if ci_lo is not None and ci_hi is not None and 0 < ci_lo <= median <= ci_hi:
        # the run's own distribution-free 95 % interval of its median (from every sample),
        # read as a normal interval on the log scale (Price–Bonett, as the order-statistic
        # ratio does); a zero-width interval (a coarse timer) counts as one resolution step
        width = max(math.log(ci_hi) - math.log(ci_lo), 2e-9)
        return median, width / (2.0 * z_two_sided(0.95)), "median CI"
    if count is None or count < 2:
        return median, None, "no sample count (≥ 2) in the summary"
    for lo_key, hi_key, mass in _PERCENTILE_PAIRS:
        lo, hi = _field(summary, lo_key), _field(summary, hi_key)
        if lo is not None and hi is not None and hi >= lo:
            # zero spread (every run identical at the timer's resolution): one resolution step
            spread = max(hi - lo, 1e-9 * median)
            return median, spread / mass / (2.0 * math.sqrt(count)) / median, f"summary {lo_key}/{hi_key}"
    std = _field(summary, "std")
    if std is not None and std >= 0:
        return median, 1.2533 * max(std, 1e-9 * median) / math.sqrt(count) / median, "summary std"
    return median, None, "no spread (p10/p90, p5/p95, p25/p75 or std) in the summary"


def relative_change_from_summary(base: Mapping[str, Any], new: Mapping[str, Any],
                                 level: float = 0.95) -> Estimate:
    """``median_new / median_base − 1`` from aggregate statistics only (approximate).

    Args:
        base, new: summaries with ``median`` and ``count`` and a spread (module docstring),
            e.g. :meth:`edgekit.measurement.LatencyStats.to_dict` or a lab results job's
            ``latency`` dict (``median_us``, ``p10_us``, …).
        level: two-sided confidence level.

    Returns:
        An :class:`Estimate` with ``method`` ``"summary …"``, or :meth:`Estimate.unknown`
        naming what is missing.
    """
    level = check_level(level)
    mb, sb, how_b = median_log_se(base)
    mn, sn, how_n = median_log_se(new)
    value = (mn / mb - 1.0) if (mb and mn) else None
    if sb is None or sn is None:
        reason = "; ".join(f"{side}: {how}" for side, how, se in (("base", how_b, sb), ("new", how_n, sn))
                           if se is None)
        return Estimate.unknown(reason, value, level)
    d = math.log(mn / mb)  # type: ignore[operator]
    half = z_two_sided(level) * math.hypot(sb, sn)
    method = how_b if how_b == how_n else f"{how_b} / {how_n}"
    return Estimate(value, math.expm1(d - half), math.expm1(d + half), level, method)


def summary_of(samples: Any) -> dict[str, float]:
    """The summary fields :func:`relative_change_from_summary` reads, from samples (for tests)."""
    arr = as_samples(samples)
    p5, p10, p25, median, p75, p90, p95 = np.percentile(arr, [5, 10, 25, 50, 75, 90, 95])
    return {"count": float(arr.size), "median": median, "p5": p5, "p10": p10, "p25": p25, "p75": p75,
            "p90": p90, "p95": p95, "mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0}


__all__ = ["median_difference_ci", "median_log_se", "relative_change_from_summary", "summary_of"]
