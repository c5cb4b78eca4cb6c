"""Distribution-free confidence intervals for a median or any quantile (order statistics).

Method: for ``n`` independent samples of a continuous distribution, the number ``B`` of
samples below the true ``q``-quantile ``ξ`` is Binomial(n, q), so for 1-based ranks
``l < u``::

    P(X_(l) ≤ ξ < X_(u)) = F(u − 1) − F(l − 1),      F = the Binomial(n, q) CDF.

:func:`order_statistic_ranks` picks the largest ``l`` with ``F(l − 1) ≤ α/2`` and the
smallest ``u`` with ``F(u − 1) ≥ 1 − α/2`` (equal tails, α = 1 − level), so the coverage
is at least ``level`` whatever the distribution (conservative: binomial steps make it a
little higher). Assumptions: the samples are independent and identically distributed
(warm runs of one session); nothing is assumed about the shape (latency's long right
tail is fine). With ties in the data (a timer's µs resolution) the closed interval
still covers with probability ≥ ``level``; it may then be a single value.

The binomial CDF is exact (computed in log space with numpy) up to ``EXACT_MAX_N``
samples; above it the normal approximation with continuity correction is used — at that
size the two agree to within one rank. Only the two order statistics are selected, with
``np.partition`` (O(n)), so 500 000 samples take milliseconds.

Too few samples: when even the sample minimum (maximum) cannot bound the quantile at the
asked level (e.g. n < 6 for a 95 % median interval), that side is unbounded, returned
as ``-inf`` (``+inf``) — an honest "cannot tell" that frontiers and the gate treat as
overlapping everything. Pass ``strict=False`` to get the widest available bound (the
sample minimum / maximum) instead; :func:`order_statistic_ranks` reports the coverage
actually reached either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from edgekit.errors import ConfigError
from edgekit.stats.estimate import Estimate, as_samples, check_level, normal_cdf, z_two_sided

#: up to this many samples the binomial CDF is computed exactly; beyond, normal approximation
EXACT_MAX_N = 1_000_000


@dataclass(frozen=True)
class OrderRanks:
    """The 1-based ranks of an order-statistic interval and its true coverage.

    Attributes:
        n: the sample count.
        lower: rank of the lower bound, ``0`` when no order statistic can serve (unbounded).
        upper: rank of the upper bound, ``n + 1`` when none can serve (unbounded).
        coverage: ``P(X_(lower) ≤ ξ < X_(upper))`` — at least the asked level when both
            sides are bounded, less when a side had to be left unbounded.
        exact: whether the binomial CDF was computed exactly (else normal approximation).
    """

    n: int
    lower: int
    upper: int
    coverage: float
    exact: bool

    @property
    def bounded(self) -> bool:
        """Whether both sides are real order statistics."""
        return self.lower >= 1 and self.upper <= self.n


def _check_q(q: float) -> float:
    try:
        value = float(q)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise ConfigError(f"quantile {q!r} is not between 0 and 1 (exclusive)",
                          hint="pass e.g. q=0.5 for the median, q=0.9 for p90")
    return value


def _binomial_cdf(n: int, q: float) -> np.ndarray:
    """``F(k)`` for k = 0..n of Binomial(n, q), exact up to float rounding (log-space pmf)."""
    k = np.arange(1, n + 1, dtype=np.float64)
    # log pmf(k) − log pmf(0) = Σ_{j≤k} log((n − j + 1)/j · q/(1 − q))
    steps = np.log((n - k + 1.0) / k) + (math.log(q) - math.log1p(-q))
    logpmf = np.concatenate(([0.0], np.cumsum(steps)))
    pmf = np.exp(logpmf - logpmf.max())
    cdf = np.cumsum(pmf)
    return cdf / cdf[-1]


@lru_cache(maxsize=256)
def order_statistic_ranks(n: int, q: float = 0.5, level: float = 0.95) -> OrderRanks:
    """The ranks of the distribution-free ``level`` interval of the ``q``-quantile of n samples.

    Args:
        n: sample count (≥ 1).
        q: the quantile, in (0, 1); 0.5 is the median.
        level: two-sided confidence level, in (0, 1).

    Returns:
        :class:`OrderRanks` (see the module docstring for the method).
    """
    if int(n) != n or n < 1:
        raise ConfigError(f"sample count {n!r} is not a positive integer", hint="measure at least one warm run")
    n, q, level = int(n), _check_q(q), check_level(level)
    tail = (1.0 - level) / 2.0
    if n <= EXACT_MAX_N:
        cdf = _binomial_cdf(n, q)                    # cdf[k] = F(k), k = 0..n
        # largest l ≥ 1 with F(l − 1) ≤ tail  →  l = the number of k with F(k) ≤ tail
        lower = int(np.searchsorted(cdf, tail + 1e-12, side="right"))  # 0 when F(0) > tail
        # smallest u ≤ n with F(u − 1) ≥ 1 − tail  →  u − 1 = first k with F(k) ≥ 1 − tail
        upper = int(np.searchsorted(cdf, 1.0 - tail - 1e-12, side="left")) + 1  # n + 1 when unbounded
        f = lambda k: 0.0 if k < 0 else (1.0 if k >= n else float(cdf[k]))  # noqa: E731
        coverage = f(upper - 1) - f(lower - 1)
        return OrderRanks(n, lower, upper, coverage, True)
    mean, sd, z = n * q, math.sqrt(n * q * (1.0 - q)), z_two_sided(level)
    lower = max(0, min(n, math.floor(mean + 0.5 - z * sd)))
    upper = max(1, min(n + 1, math.ceil(mean + 0.5 + z * sd)))
    approx = lambda k: normal_cdf((k + 0.5 - mean) / sd)  # noqa: E731
    coverage = approx(upper - 1) - approx(lower - 1)
    return OrderRanks(n, lower, upper, coverage, False)


def _select(arr: np.ndarray, ranks: list[int]) -> dict[int, float]:
    """The order statistics of the given 1-based ranks, with one ``np.partition``."""
    wanted = sorted({r - 1 for r in ranks})
    if not wanted:
        return {}
    part = np.partition(arr, wanted)
    return {i + 1: float(part[i]) for i in wanted}


def _bounds(arr: np.ndarray, ranks: OrderRanks, strict: bool,
            extra: tuple[int, ...] = ()) -> tuple[float, float, dict[int, float]]:
    """The interval's bounds (∓inf or min/max when unbounded) and the other picked ranks."""
    n = arr.size
    lo_rank = ranks.lower if ranks.lower >= 1 else (None if strict else 1)
    hi_rank = ranks.upper if ranks.upper <= n else (None if strict else n)
    picked = _select(arr, [r for r in (lo_rank, hi_rank) if r is not None] + list(extra))
    lo = picked[lo_rank] if lo_rank is not None else -math.inf
    hi = picked[hi_rank] if hi_rank is not None else math.inf
    return lo, hi, picked


def quantile_ci(samples: Any, q: float, level: float = 0.95, strict: bool = True) -> tuple[float, float]:
    """Distribution-free ``level`` confidence interval of the ``q``-quantile of ``samples``.

    Args:
        samples: warm latencies (any unit) or any i.i.d. values; at least one.
        q: the quantile in (0, 1).
        level: two-sided confidence level.
        strict: when too few samples bound a side, return ``∓inf`` for it (default) rather
            than the sample minimum / maximum (whose coverage is below ``level``).

    Returns:
        ``(lo, hi)``: two order statistics of the samples (see the module docstring).
    """
    arr = as_samples(samples)
    lo, hi, _ = _bounds(arr, order_statistic_ranks(arr.size, _check_q(q), check_level(level)), strict)
    return lo, hi


def median_ci(samples: Any, level: float = 0.95, strict: bool = True) -> tuple[float, float]:
    """Distribution-free ``level`` confidence interval of the median: ``quantile_ci(samples, 0.5)``."""
    return quantile_ci(samples, 0.5, level, strict)


def median_estimate(samples: Any, level: float = 0.95, strict: bool = True) -> Estimate:
    """The sample median (numpy's definition) with its order-statistic interval, in one pass.

    Returns:
        An :class:`Estimate` with ``method="order-statistic"`` (``…-approx`` above
        ``EXACT_MAX_N`` samples).
    """
    arr = as_samples(samples)
    n = arr.size
    ranks = order_statistic_ranks(n, 0.5, check_level(level))
    mid = (n // 2 + 1,) if n % 2 else (n // 2, n // 2 + 1)
    lo, hi, picked = _bounds(arr, ranks, strict, mid)
    median = sum(picked[r] for r in mid) / len(mid)
    return Estimate(median, lo, hi, float(level), "order-statistic" if ranks.exact else "order-statistic-approx")


def min_samples_for(q: float = 0.5, level: float = 0.95) -> int:
    """The fewest samples whose min and max bound the ``q``-quantile at ``level`` (6 for a 95 % median)."""
    q, level = _check_q(q), check_level(level)
    tail = (1.0 - level) / 2.0
    # both sides bounded iff P(all samples above ξ) = (1 − q)^n ≤ tail and P(all below) = q^n ≤ tail
    need = max(math.log(tail) / math.log(1.0 - q), math.log(tail) / math.log(q))
    return max(1, math.ceil(need - 1e-9))


__all__ = ["EXACT_MAX_N", "OrderRanks", "median_ci", "median_estimate", "min_samples_for",
           "order_statistic_ranks", "quantile_ci"]
