"""Ratio-of-medians intervals: coverage on simulated data, reproducibility, exact ratios."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.stats.ratio import AUTO_ORDER_MIN_N, exact_ratio, ratio_of_medians_ci


def _draw_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """a: lognormal with median 2; b: exponential with median 1 — true ratio 2."""
    return 2.0 * rng.lognormal(0.0, 0.3, n), rng.exponential(1.0 / np.log(2.0), n)


@pytest.mark.parametrize("n,method,trials,low", [(40, "bootstrap", 300, 0.92), (1000, "order-statistic", 2000, 0.93),
                                                 (150, "order-statistic", 2000, 0.93)])
def test_coverage_on_simulated_data(n: int, method: str, trials: int, low: float) -> None:
    rng = np.random.default_rng(11 + n)
    hits = 0
    for t in range(trials):
        a, b = _draw_pair(rng, n)
        est = ratio_of_medians_ci(a, b, method=method, resamples=1000, seed=t)  # type: ignore[arg-type]
        assert est.method == method and est.lo < est.value < est.hi
        hits += est.lo <= 2.0 <= est.hi
    assert low <= hits / trials <= 0.98, f"coverage {hits / trials:.3f}"


def test_methods_agree_and_auto_switches() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.lognormal(0.1, 0.2, 2000), rng.lognormal(0.0, 0.2, 2000)
    boot = ratio_of_medians_ci(a, b, method="bootstrap")
    order = ratio_of_medians_ci(a, b)
    assert order.method == "order-statistic"
    assert boot.value == order.value == pytest.approx(np.median(a) / np.median(b))
    assert boot.lo == pytest.approx(order.lo, rel=0.01) and boot.hi == pytest.approx(order.hi, rel=0.01)
    small = ratio_of_medians_ci(a[: AUTO_ORDER_MIN_N - 1], b[:50])
    assert small.method == "bootstrap"


def test_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.lognormal(0, 0.3, 60), rng.lognormal(0, 0.3, 70)
    first = ratio_of_medians_ci(a, b, seed=7)
    assert ratio_of_medians_ci(a, b, seed=7) == first
    assert ratio_of_medians_ci(a, b, seed=8) != first


def test_exact_ratio_is_zero_width() -> None:
    est = exact_ratio(1_200_000, 4_800_000)
    assert (est.value, est.lo, est.hi, est.level, est.method) == (0.25, 0.25, 0.25, 1.0, "exact")
    assert est.known and est.width == 0.0
    with pytest.raises(ConfigError):
        exact_ratio(1.0, 0.0)


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="≤ 0"):
        ratio_of_medians_ci([1.0, -2.0], [1.0, 2.0])
    with pytest.raises(ConfigError, match="unknown"):
        ratio_of_medians_ci([1.0, 2.0], [1.0, 2.0], method="magic")  # type: ignore[arg-type]
    # ten samples are enough for a (wide) order-statistic interval
    assert ratio_of_medians_ci(np.arange(1.0, 11.0), np.arange(1.0, 11.0), method="order-statistic").known


def test_too_few_samples_give_an_unknown_interval() -> None:
    est = ratio_of_medians_ci([1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    assert est.value == 0.5 and not est.known and "fewer than 6 samples" in est.method


def test_tied_samples_from_a_coarse_timer_keep_a_nonzero_width() -> None:
    rng = np.random.default_rng(6)
    base = np.round(20.0 * rng.lognormal(0, 0.01, 1000))        # nearly all exactly 20 µs
    new = np.round(20.0 * rng.lognormal(0, 0.01, 1000))
    est = ratio_of_medians_ci(base, new)
    assert est.method == "order-statistic" and est.value == 1.0
    assert est.lo < 1.0 < est.hi
