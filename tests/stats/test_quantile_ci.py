"""Order-statistic intervals: ranks against exact binomial sums, coverage by simulation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.stats.quantile_ci import (EXACT_MAX_N, median_ci, median_estimate, min_samples_for,
                                       order_statistic_ranks, quantile_ci)


def _cdf_exact(n: int, q: Fraction, k: int) -> Fraction:
    """P(Binomial(n, q) ≤ k) with exact rational arithmetic (independent of the module)."""
    return sum((math.comb(n, i) * q ** i * (1 - q) ** (n - i) for i in range(0, k + 1)), Fraction(0))


@pytest.mark.parametrize("n,q", [(6, "1/2"), (10, "1/2"), (25, "1/2"), (60, "1/2"), (101, "1/2"), (50, "9/10"),
                                 (200, "1/10")])
def test_ranks_are_the_tightest_equal_tailed_choice(n: int, q: str) -> None:
    qf = Fraction(q)
    r = order_statistic_ranks(n, float(qf), 0.95)
    tail = Fraction(1, 40)
    assert 1 <= r.lower < r.upper <= n
    assert _cdf_exact(n, qf, r.lower - 1) <= tail < _cdf_exact(n, qf, r.lower)       # largest such l
    assert _cdf_exact(n, qf, r.upper - 1) >= 1 - tail > _cdf_exact(n, qf, r.upper - 2)  # smallest such u
    cov = _cdf_exact(n, qf, r.upper - 1) - _cdf_exact(n, qf, r.lower - 1)
    assert r.coverage == pytest.approx(float(cov), abs=1e-9)
    assert r.coverage >= 0.95


def test_known_table_value_n100() -> None:
    # the textbook 95 % median interval for n = 100 is [X_(40), X_(61)]
    r = order_statistic_ranks(100)
    assert (r.lower, r.upper) == (40, 61)


def _coverage(draw, true_median: float, n: int, trials: int, rng: np.random.Generator) -> float:
    r = order_statistic_ranks(n)
    x = draw(rng, (trials, n))
    part = np.partition(x, [r.lower - 1, r.upper - 1], axis=1)
    lo, hi = part[:, r.lower - 1], part[:, r.upper - 1]
    return float(np.mean((lo <= true_median) & (true_median <= hi)))


DISTRIBUTIONS = {
    "normal": (lambda rng, size: rng.normal(5.0, 1.0, size), 5.0),
    "lognormal": (lambda rng, size: rng.lognormal(0.0, 0.5, size), 1.0),
    "exponential": (lambda rng, size: rng.exponential(2.0, size), 2.0 * math.log(2.0)),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("n", [101, 1000])
def test_median_ci_covers_95_percent(name: str, n: int) -> None:
    draw, true_median = DISTRIBUTIONS[name]
    cov = _coverage(draw, true_median, n, 2000, np.random.default_rng(2024 + n))
    assert 0.93 <= cov <= 0.97, f"{name} n={n}: coverage {cov:.3f}"


def test_p90_ci_covers_95_percent() -> None:
    rng = np.random.default_rng(7)
    r = order_statistic_ranks(1000, 0.9)
    x = rng.exponential(1.0, (2000, 1000))
    part = np.partition(x, [r.lower - 1, r.upper - 1], axis=1)
    true_p90 = -math.log(0.1)
    cov = float(np.mean((part[:, r.lower - 1] <= true_p90) & (true_p90 <= part[:, r.upper - 1])))
    assert 0.93 <= cov <= 0.97


def test_interval_is_two_order_statistics_of_the_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(6.9, 0.05, 500_000)
    lo, hi = median_ci(x)
    s = np.sort(x)
    r = order_statistic_ranks(x.size)
    assert (lo, hi) == (s[r.lower - 1], s[r.upper - 1])
    est = median_estimate(x)
    assert est.value == pytest.approx(float(np.median(x)), rel=0, abs=0)
    assert (est.lo, est.hi) == (lo, hi) and est.lo < est.value < est.hi
    assert quantile_ci(x, 0.99)[0] > hi


def test_too_few_samples_are_unbounded_or_widest() -> None:
    assert min_samples_for(0.5, 0.95) == 6
    assert min_samples_for(0.9, 0.95) == 36
    five = [3.0, 1.0, 4.0, 1.5, 9.0]
    assert median_ci(five) == (-math.inf, math.inf)
    assert median_ci(five, strict=False) == (1.0, 9.0)
    assert order_statistic_ranks(5).coverage == 1.0 and not order_statistic_ranks(5).bounded
    assert median_ci([2.0], strict=False) == (2.0, 2.0)
    six = [3.0, 1.0, 4.0, 1.5, 9.0, 2.0]
    assert median_ci(six) == (1.0, 9.0)
    assert median_estimate([1.0, 2.0, 3.0, 4.0], strict=False).value == 2.5
    # the p90 needs 36 samples for both sides; with 20 only its upper side is unbounded
    lo, hi = quantile_ci(np.arange(1.0, 21.0), 0.9)
    assert math.isfinite(lo) and hi == math.inf


def test_normal_approximation_agrees_with_exact_at_the_switch() -> None:
    exact = order_statistic_ranks(EXACT_MAX_N)
    approx = order_statistic_ranks(EXACT_MAX_N + 2)
    assert exact.exact and not approx.exact
    assert abs(approx.lower - exact.lower) <= 2 and abs(approx.upper - 2 - exact.upper) <= 2
    assert approx.coverage == pytest.approx(0.95, abs=0.001)


@pytest.mark.parametrize("call,needle", [
    (lambda: median_ci([]), "empty"),
    (lambda: median_ci([1.0, float("nan")]), "NaN"),
    (lambda: median_ci([1.0, 2.0], level=1.5), "1.5"),
    (lambda: quantile_ci([1.0, 2.0], q=0.0), "quantile 0.0"),
    (lambda: order_statistic_ranks(0), "sample count 0"),
])
def test_bad_input_raises_config_error(call, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        call()
    assert needle in str(err.value) and err.value.hint
