"""Relative change of a median: from samples, and the summary-only approximation."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.measurement import LatencyStats
from edgekit.stats.relative_change import median_difference_ci, relative_change_from_summary, summary_of


def _pair(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    return 1000.0 * rng.lognormal(0.0, 0.1, n), 1000.0 * (1.0 + shift) * rng.lognormal(0.0, 0.1, n)


def test_interval_is_the_ratio_interval_minus_one() -> None:
    rng = np.random.default_rng(0)
    base, new = _pair(rng, 1000, 0.10)
    est = median_difference_ci(base, new)
    assert est.value == pytest.approx(np.median(new) / np.median(base) - 1.0)
    assert est.lo < est.value < est.hi and est.contains(0.10)
    assert est.method == "order-statistic"


@pytest.mark.parametrize("from_summary", [False, True])
def test_coverage_of_the_true_change(from_summary: bool) -> None:
    rng = np.random.default_rng(5)
    hits, trials = 0, 1000
    for _ in range(trials):
        base, new = _pair(rng, 500, 0.07)
        est = (relative_change_from_summary(summary_of(base), summary_of(new)) if from_summary
               else median_difference_ci(base, new))
        hits += est.contains(0.07)
    # samples: calibrated; summaries: approximate but conservative (never much below 95 %)
    assert (0.93 if not from_summary else 0.94) <= hits / trials <= (0.975 if not from_summary else 1.0)


def test_summary_fields_and_suffixes() -> None:
    rng = np.random.default_rng(1)
    base, new = _pair(rng, 800, 0.2)
    s_base = LatencyStats.from_samples(base.tolist()).to_dict()          # count/median/p10/p90/std
    s_new = {f"{k}_us" if k != "count" else k: v for k, v in LatencyStats.from_samples(new.tolist()).to_dict().items()}
    est = relative_change_from_summary(s_base, s_new)
    assert est.method == "median CI" and est.contains(0.2)              # LatencyStats carries the median's CI
    no_ci = {k: v for k, v in s_base.items() if "_ci_" not in k}
    est = relative_change_from_summary(no_ci, {k: v for k, v in s_new.items() if "_ci_" not in k})
    assert est.method == "summary p10/p90" and est.contains(0.2)
    only_std = relative_change_from_summary({"median": 1000.0, "std": 100.0, "count": 400},
                                            {"median": 1100.0, "std": 110.0, "count": 400})
    assert only_std.method == "summary std" and only_std.lo < 0.1 < only_std.hi
    p5p95 = relative_change_from_summary({"median": 1000.0, "p5": 900.0, "p95": 1100.0, "count": 400},
                                         {"median": 1000.0, "p5": 900.0, "p95": 1100.0, "count": 400})
    assert p5p95.method == "summary p5/p95" and np.log1p(p5p95.lo) == pytest.approx(-np.log1p(p5p95.hi))


def test_summary_without_count_or_spread_is_unknown() -> None:
    est = relative_change_from_summary({"median": 1000.0, "p10": 900.0, "p90": 1100.0},
                                       {"median": 1100.0, "count": 100})
    assert not est.known and est.lo is None and est.hi is None
    assert est.value == pytest.approx(0.1)
    assert "base: no sample count" in est.method and "new: no spread" in est.method
    assert not relative_change_from_summary({}, {"median": 1.0}).known
