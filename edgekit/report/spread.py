"""How a candidate's latency and spread are named in tables, plots and text.

Samples kept (edgekit's runner): the median with p10–p90. Aggregate-only runs
(``benchmark_model``): the median with p5–p95 when the tool printed them, else the mean with
± std, else the mean alone — each labelled as what it is (see :mod:`edgekit.latency`).
"""

from __future__ import annotations

from typing import Optional, Sequence

from .collect import Candidate

__all__ = ["spread_text", "error_bar", "axis_label"]


def _ms(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.3g}"


def spread_text(c: Candidate, fmt: Optional[object] = None) -> str:
    """``p10–p90 0.50–0.55``, ``p5–p95 42.2–42.7``, ``mean ± std 42.4 ± 0.15``, or ``""``."""
    show = fmt if callable(fmt) else _ms
    if c.spread_lo_ms is None or c.spread_hi_ms is None:
        return "" if c.latency_stat == "median" else "mean (no median printed)"
    if c.spread == "std" and c.mean_ms is not None:
        prefix = "mean" if c.latency_stat == "mean" else "median; mean"
        return f"{prefix} ± std {show(c.mean_ms)} ± {show(c.mean_ms - c.spread_lo_ms)}"
    name = {"p10-p90": "p10–p90", "p5-p95": "p5–p95"}.get(c.spread, c.spread)
    return f"{name} {show(c.spread_lo_ms)}–{show(c.spread_hi_ms)}"


def error_bar(c: Candidate) -> tuple[float, float]:
    """(below, above) the plotted latency: the 95 % interval of the median when known, else the
    spread the runner gave (labelled as such by :func:`axis_label`), else 0."""
    x = c.latency_ms
    if x is None:
        return 0.0, 0.0
    ci = c.median_ci_ms
    if ci is not None:
        return max(0.0, x - ci[0]), max(0.0, ci[1] - x)
    if c.spread_lo_ms is None or c.spread_hi_ms is None:
        return 0.0, 0.0
    return max(0.0, x - c.spread_lo_ms), max(0.0, c.spread_hi_ms - x)


def axis_label(cands: Sequence[Candidate]) -> str:
    """``median latency (ms), p10–p90`` — or what the plotted runs really are."""
    stats = sorted({c.latency_stat for c in cands}) or ["median"]
    spreads = [{"p10-p90": "p10–p90", "p5-p95": "p5–p95", "std": "± std"}.get(s, s)
               for s in dict.fromkeys(c.spread for c in cands) if s]
    centre = " or ".join(stats) + " latency (ms)"
    if cands and all(c.median_ci_ms is not None for c in cands if c.latency_ms is not None):
        return centre + ", 95% CI of the median"
    if any(c.median_ci_ms is not None for c in cands):
        spreads = ["95% CI"] + [s for s in spreads if s != "p10–p90"]
    return centre + (", " + " / ".join(spreads) if spreads else "")
