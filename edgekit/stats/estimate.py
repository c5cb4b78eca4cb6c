"""The value-with-interval type every statistic of this package returns, and level checks.

An :class:`Estimate` is a point value with a two-sided confidence interval ``[lo, hi]``
at ``level`` and the ``method`` that produced it. An exact quantity (an artifact's size,
a ratio of two sizes) is an ``Estimate`` with ``lo == hi == value`` and ``level`` 1, so
callers treat measured and exact quantities alike. An *unknown* interval (too little
data, only a summary that cannot support one) has ``lo`` and ``hi`` set to ``None`` and
says why in ``method``; :attr:`Estimate.known` is then false.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Optional

import numpy as np

from edgekit.errors import ConfigError

_STD_NORMAL = NormalDist()


def check_level(level: float) -> float:
    """Return ``level`` as a float after checking it is a confidence level in (0, 1)."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise ConfigError(f"confidence level {level!r} is not between 0 and 1 (exclusive)",
                          hint="pass e.g. level=0.95 for a 95 % interval")
    return value


def as_samples(samples: Any, name: str = "samples", positive: bool = False) -> np.ndarray:
    """``samples`` as a 1-D float64 array, checked: non-empty, finite (and > 0 if ``positive``)."""
    try:
        arr = np.asarray(samples, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} are not numbers: {exc}", hint="pass a list or array of floats") from exc
    if arr.size == 0:
        raise ConfigError(f"{name} are empty", hint="measure at least one warm run")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ConfigError(f"{name} hold {bad} NaN or infinite value(s)",
                          hint="drop failed runs before computing statistics")
    if positive and float(arr.min()) <= 0.0:
        raise ConfigError(f"{name} hold a value ≤ 0 ({float(arr.min())!r}); a ratio needs positive values",
                          hint="latencies and sizes are positive: check the units and the parser")
    return arr


def z_two_sided(level: float) -> float:
    """The standard-normal quantile ``z`` with ``P(|Z| ≤ z) = level`` (1.96 for 0.95)."""
    return _STD_NORMAL.inv_cdf(0.5 + check_level(level) / 2.0)


def normal_cdf(x: float) -> float:
    """The standard-normal cumulative distribution function."""
    return _STD_NORMAL.cdf(x)


@dataclass(frozen=True)
class Estimate:
    """A value with its two-sided confidence interval.

    Attributes:
        value: the point estimate (a median, a ratio, a relative change, an exact size).
        lo, hi: the interval bounds; ``None`` when the interval is unknown. Infinite
            bounds mean the data cannot bound that side at this level.
        level: the interval's confidence level (1.0 for an exact value).
        method: how the interval was computed (``"exact"``, ``"bootstrap"``, …), or
            ``"unknown: <reason>"``.
    """

    value: Optional[float]
    lo: Optional[float]
    hi: Optional[float]
    level: float
    method: str

    @classmethod
    def exact(cls, value: float) -> "Estimate":
        """An exactly known value: a zero-width interval at level 1."""
        return cls(float(value), float(value), float(value), 1.0, "exact")

    @classmethod
    def unknown(cls, reason: str, value: Optional[float] = None, level: float = 0.95) -> "Estimate":
        """An estimate whose interval cannot be computed, with the reason."""
        return cls(value, None, None, level, f"unknown: {reason}")

    @property
    def known(self) -> bool:
        """Whether both bounds exist and are finite."""
        return (self.lo is not None and self.hi is not None
                and math.isfinite(self.lo) and math.isfinite(self.hi))

    @property
    def width(self) -> Optional[float]:
        """``hi − lo`` (``None`` when unknown)."""
        return (self.hi - self.lo) if self.known else None  # type: ignore[operator]

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in ``[lo, hi]`` (false when the interval is unknown)."""
        return self.lo is not None and self.hi is not None and self.lo <= x <= self.hi

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; an infinite (unbounded) side becomes ``None``, as JSON has no infinity."""
        d = asdict(self)
        for key in ("lo", "hi"):
            if d[key] is not None and not math.isfinite(d[key]):
                d[key] = None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Estimate":
        """The inverse of :meth:`to_dict`."""
        return cls(d.get("value"), d.get("lo"), d.get("hi"), float(d.get("level", 0.95)), str(d.get("method", "")))


__all__ = ["Estimate", "as_samples", "check_level", "normal_cdf", "z_two_sided"]
