"""Latency trends across a lab's runs, with regressions marked.

A trend is one lab's job (its label, e.g. ``small_cnn_int8[int8] on pixel4``) followed run
after run: the median and its 95 % confidence interval (``LatencyStats.median_ci_lo/hi``)
of the job's measurement in each run. A run **regressed** when its median's interval lies
entirely above the previous measured run's interval by more than :data:`REGRESSION_MARGIN`
(lo > hi_prev × 1.05): a difference the intervals cannot explain, and one worth waking up
for. Measurements without an interval (aggregate-only runners, too few samples) count as
the single point of their median, and their points say so (``ci: false``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

REGRESSION_MARGIN = 0.05


@dataclass(frozen=True)
class TrendPoint:
    """One run of one job."""

    run: int
    median_us: float
    lo_us: float
    hi_us: float
    has_ci: bool


def regressed(point: TrendPoint, previous: Optional[TrendPoint], margin: float = REGRESSION_MARGIN) -> bool:
    """Whether ``point``'s interval lies entirely above ``previous``'s by more than ``margin``."""
    return previous is not None and point.lo_us > previous.hi_us * (1.0 + margin)


def _run_number(key: str) -> tuple[str, int]:
    lab, _, run = key.rpartition("#")
    return lab, int(run)


def job_trends(jobs: Sequence[Mapping[str, Any]], stats: Mapping[str, Mapping[str, Any]],
               meta: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Group job rows (``lab``, ``label``, ``device``, ``state``, ``measurement_id``) into trends.

    Args:
        jobs: job rows of the runs to show (``lab`` is the run key ``name#run``).
        stats: measurement id → its stats document (plus ``flags``).
        meta: run key → CI labels (``commit``, ``branch``).

    Returns:
        One dict per (lab, label), sorted by lab and label: ``points`` in run order, each with
        median, interval, CI labels, ``regressed`` and ``delta_pct`` against the previous point.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for j in jobs:
        lab, run = _run_number(j["lab"])
        s = stats.get(j["measurement_id"]) if j["measurement_id"] else None
        point: dict[str, Any] = {"run": run, "run_key": j["lab"], "state": j["state"], "device": j["device"],
                                 "median_us": None, "lo_us": None, "hi_us": None, "ci": False, "flags": [],
                                 **{f: (meta.get(j["lab"]) or {}).get(f) for f in ("commit", "branch")}}
        if s and s.get("median") is not None:
            lo, hi = s.get("median_ci_lo"), s.get("median_ci_hi")
            point.update(median_us=float(s["median"]), ci=lo is not None and hi is not None,
                         lo_us=float(lo if lo is not None else s["median"]),
                         hi_us=float(hi if hi is not None else s["median"]), flags=list(s.get("flags") or []))
        groups.setdefault((lab, j["label"]), []).append(point)
    out = []
    for (lab, label), points in sorted(groups.items()):
        points.sort(key=lambda p: p["run"])
        previous: Optional[TrendPoint] = None
        for p in points:
            p["regressed"], p["delta_pct"] = False, None
            if p["median_us"] is None:
                continue
            here = TrendPoint(p["run"], p["median_us"], p["lo_us"], p["hi_us"], p["ci"])
            if previous is not None:
                p["regressed"] = regressed(here, previous)
                p["delta_pct"] = round((here.median_us / previous.median_us - 1.0) * 100.0, 2) \
                    if previous.median_us else None
            previous = here
        measured = [p for p in points if p["median_us"] is not None]
        out.append({"lab": lab, "label": label, "points": points,
                    "regressed": points[-1]["regressed"],        # the newest run, not a stale one
                    "regressions": sum(p["regressed"] for p in points),
                    "latest_us": measured[-1]["median_us"] if measured else None})
    return out
