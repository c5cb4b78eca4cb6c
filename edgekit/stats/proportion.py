"""The Wilson score interval for a proportion (accuracy, top-1, any success rate).

Method (Wilson, 1927): the set of true proportions ``p`` for which the observed ``p̂`` is
within ``z`` standard errors, ``|p̂ − p| ≤ z·sqrt(p(1 − p)/n)``, solved for ``p``::

    centre = (p̂ + z²/2n) / (1 + z²/n)
    half   = z / (1 + z²/n) · sqrt(p̂(1 − p̂)/n + z²/4n²)

Assumptions: ``n`` independent trials with one success probability (an evaluation set
drawn from the population of interest). Unlike the Wald interval it stays inside [0, 1]
and keeps close to nominal coverage at 0 % or 100 % accuracy and for small ``n``.
"""

from __future__ import annotations

import math
import numbers
from typing import Union

from edgekit.errors import ConfigError
from edgekit.stats.estimate import Estimate, check_level, z_two_sided


def _successes(successes_or_proportion: Union[int, float], n: int) -> float:
    """The success count: an integer is a count, a float in [0, 1] a proportion."""
    value = successes_or_proportion
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"successes {value!r} is neither a count nor a proportion",
                          hint="pass an int count of successes or a float proportion in [0, 1]")
    if isinstance(value, numbers.Integral):
        count = float(value)
        if not 0 <= count <= n:
            raise ConfigError(f"successes {value!r} is outside 0..{n}",
                              hint="the success count cannot exceed the sample count")
        return count
    proportion = float(value)
    if not 0.0 <= proportion <= 1.0:
        raise ConfigError(f"proportion {value!r} is outside [0, 1]",
                          hint="pass a float proportion (0.93) or an int count (93)")
    return proportion * n


def wilson_estimate(successes_or_proportion: Union[int, float], n: int, level: float = 0.95) -> Estimate:
    """The observed proportion with its Wilson interval, as an :class:`Estimate`.

    Args:
        successes_or_proportion: an ``int`` is the number of successes, a ``float`` the
            observed proportion in [0, 1] (e.g. ``0.9312`` top-1 accuracy).
        n: the number of trials (evaluation samples), ≥ 1.
        level: two-sided confidence level.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ConfigError(f"sample count {n!r} is not a positive integer",
                          hint="a quality record needs its sample count for an interval")
    level = check_level(level)
    successes = _successes(successes_or_proportion, int(n))
    p = successes / n
    z = z_two_sided(level)
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(max(0.0, p * (1.0 - p) / n + z2n / (4.0 * n)))
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return Estimate(p, lo, hi, level, "wilson")


def wilson_interval(successes_or_proportion: Union[int, float], n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval ``(lo, hi)`` of a proportion (see :func:`wilson_estimate`)."""
    est = wilson_estimate(successes_or_proportion, n, level)
    return est.lo, est.hi  # type: ignore[return-value]


__all__ = ["wilson_estimate", "wilson_interval"]
