"""Noise-aware Pareto frontiers: dominance only beyond the confidence intervals.

Each point has an id and, per axis, a value with an interval and a direction
(``"min"`` for latency and size, ``"max"`` for quality). Comparing point ``a`` with
``b`` on one axis:

* ``a`` is **better beyond noise** when the difference of the values exceeds the noise of
  the difference: for ``"max"``, ``a.value − b.value > sqrt(h_a² + h_b²)`` with ``h_a =
  a.value − a.lo`` and ``h_b = b.hi − b.value`` (the half-widths facing each other; for
  ``"min"`` mirrored). With 95 % intervals this is the usual two-sample test of a difference
  at ≈5 %; disjoint intervals always pass it, overlapping ones may (testing overlap alone
  would need a difference of about twice as much). Exact values (zero width) differ by any
  amount;
* ``a`` is **at least as good within noise** unless ``b`` is better beyond noise.

``a`` **dominates** ``b`` iff ``a`` is at least as good within noise on every axis and
better beyond noise on at least one. The noisy frontier is the set of points no other
point dominates. With zero-width intervals (exact values) this is the exact Pareto
relation. Neither frontier contains the other in general: a point whose only advantage
is within noise drops out of the noisy frontier, and a point beaten only within noise
stays on it. The relation is asymmetric but, as overlap is not transitive, with three or
more axes a dominance cycle is possible in contrived cases (every point of it is then
dominated); :attr:`NoisyParetoResult.dominated` names each point's dominator.

Tie groups (:func:`tie_groups`): the connected components of the graph linking two
points whose intervals overlap on every axis — points the data cannot tell apart.

Assumptions: the intervals are the per-point confidence intervals (median CIs for
latency, Wilson for quality, exact for size), each roughly normal around its value, and
the points independent (two accuracies on the same test set are positively correlated, so
the test is conservative for them).
Points with a missing value (``None``/NaN) on an axis are set apart in ``missing``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

from edgekit.errors import ConfigError
from edgekit.stats.estimate import Estimate

Direction = Literal["min", "max"]


@dataclass(frozen=True)
class AxisValue:
    """One coordinate: value, interval ``[lo, hi]`` and direction (``"min"`` or ``"max"``)."""

    value: Optional[float]
    lo: Optional[float]
    hi: Optional[float]
    direction: Direction

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ConfigError(f"axis direction {self.direction!r} is neither 'min' nor 'max'",
                              hint="minimise latency and size ('min'), maximise quality ('max')")
        if not self.missing and not (self.lo <= self.value <= self.hi):  # type: ignore[operator]
            raise ConfigError(f"interval [{self.lo}, {self.hi}] does not contain the value {self.value}",
                              hint="pass lo ≤ value ≤ hi")

    @classmethod
    def exact(cls, value: Optional[float], direction: Direction) -> "AxisValue":
        """An exactly known coordinate (a size): zero-width interval."""
        return cls(value, value, value, direction)

    @classmethod
    def from_estimate(cls, est: Estimate, direction: Direction) -> "AxisValue":
        """From an :class:`Estimate`; an unknown interval becomes ``(-inf, inf)`` (ties with all)."""
        lo = est.lo if est.lo is not None else -math.inf
        hi = est.hi if est.hi is not None else math.inf
        return cls(est.value, lo, hi, direction)

    @property
    def missing(self) -> bool:
        """Whether the value or a bound is None/NaN (cannot be compared)."""
        return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (self.value, self.lo, self.hi))


@dataclass(frozen=True)
class NoisyPoint:
    """A candidate (a variant on a device): an id, its axes by name, and any payload."""

    id: str
    axes: Mapping[str, AxisValue]
    payload: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class NoisyParetoResult:
    """The outcome of :func:`noisy_pareto`.

    Attributes:
        front: points no other point dominates beyond noise, in input order.
        dominated: ``(point, dominator)``, the dominator being the first in input order.
        ties: tie groups (size ≥ 2) among the front points.
        missing: points with a missing coordinate, with the names of those axes.
    """

    front: list[NoisyPoint]
    dominated: list[tuple[NoisyPoint, NoisyPoint]]
    ties: list[list[NoisyPoint]]
    missing: list[tuple[NoisyPoint, list[str]]]

    def front_ids(self) -> list[str]:
        return [p.id for p in self.front]


def better_beyond_noise(a: AxisValue, b: AxisValue) -> bool:
    """Whether ``a`` is better than ``b`` on their axis beyond noise (module docstring)."""
    if a.direction == "min":
        gap, ha, hb = b.value - a.value, a.hi - a.value, b.value - b.lo  # type: ignore[operator]
    else:
        gap, ha, hb = a.value - b.value, a.value - a.lo, b.hi - b.value  # type: ignore[operator]
    return gap > 0 and gap > math.hypot(ha, hb)


def overlaps(a: AxisValue, b: AxisValue) -> bool:
    """Whether two intervals share at least one point (touching ends count)."""
    return a.lo <= b.hi and b.lo <= a.hi  # type: ignore[operator]


def _axis_names(points: Sequence[NoisyPoint]) -> list[str]:
    if not points:
        return []
    names = list(points[0].axes)
    directions = {n: points[0].axes[n].direction for n in names}
    for p in points:
        if set(p.axes) != set(names):
            raise ConfigError(f"point {p.id!r} has axes {sorted(p.axes)}, expected {sorted(names)}",
                              hint="give every point the same axes (use a missing value for unknowns)")
        for n in names:
            if p.axes[n].direction != directions[n]:
                raise ConfigError(f"point {p.id!r}: axis {n!r} is '{p.axes[n].direction}', others '{directions[n]}'",
                                  hint="an axis has one direction for all points")
    return names


def noisy_dominates(a: NoisyPoint, b: NoisyPoint, axes: Optional[Sequence[str]] = None) -> bool:
    """Whether ``a`` dominates ``b`` beyond noise (see the module docstring)."""
    strictly = False
    for name in axes if axes is not None else list(a.axes):
        x, y = a.axes[name], b.axes[name]
        if better_beyond_noise(y, x):
            return False
        if better_beyond_noise(x, y):
            strictly = True
    return strictly


def _split_missing(points: Sequence[NoisyPoint], names: list[str]):  # type: ignore[no-untyped-def]
    complete, missing = [], []
    for p in points:
        absent = [n for n in names if p.axes[n].missing]
        if absent:
            missing.append((p, absent))
        else:
            complete.append(p)
    return complete, missing


def tie_groups(points: Sequence[NoisyPoint], include_singletons: bool = False) -> list[list[NoisyPoint]]:
    """Connected components of "intervals overlap on every axis", in input order.

    Args:
        points: usually a frontier (points with missing values are skipped).
        include_singletons: also return points tied with nothing, as groups of one.
    """
    names = _axis_names(points)
    complete, _ = _split_missing(points, names)
    parent = list(range(len(complete)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(complete):
        for j in range(i + 1, len(complete)):
            if all(overlaps(a.axes[n], complete[j].axes[n]) for n in names):
                parent[root(j)] = root(i)
    groups: dict[int, list[NoisyPoint]] = {}
    for i, p in enumerate(complete):
        groups.setdefault(root(i), []).append(p)
    return [g for g in groups.values() if include_singletons or len(g) > 1]


def noisy_pareto(points: Sequence[NoisyPoint]) -> NoisyParetoResult:
    """The noise-aware frontier, the dominated points, the tie groups and the missing.

    O(n²·d); every input point appears once in ``front``, ``dominated`` or ``missing``.
    """
    names = _axis_names(points)
    complete, missing = _split_missing(points, names)
    front: list[NoisyPoint] = []
    dominated: list[tuple[NoisyPoint, NoisyPoint]] = []
    for p in complete:
        dominator = next((o for o in complete if o is not p and noisy_dominates(o, p, names)), None)
        if dominator is None:
            front.append(p)
        else:
            dominated.append((p, dominator))
    return NoisyParetoResult(front, dominated, tie_groups(front), missing)


def exact_pareto(points: Sequence[NoisyPoint]) -> list[NoisyPoint]:
    """The exact frontier on the point values alone (intervals ignored), for comparison.

    A point is dropped iff another is at least as good on every axis and strictly better
    on one; identical points are all kept. Points with a missing value are left out.
    """
    names = _axis_names(points)
    complete, _ = _split_missing(points, names)

    def signed(p: NoisyPoint) -> list[float]:
        return [p.axes[n].value if p.axes[n].direction == "max" else -p.axes[n].value  # type: ignore[operator]
                for n in names]

    vecs = [signed(p) for p in complete]

    def dom(u: list[float], v: list[float]) -> bool:
        return all(x >= y for x, y in zip(u, v)) and any(x > y for x, y in zip(u, v))

    return [p for p, v in zip(complete, vecs) if not any(dom(u, v) for u in vecs)]


__all__ = ["AxisValue", "Direction", "NoisyParetoResult", "NoisyPoint", "better_beyond_noise", "exact_pareto", "noisy_dominates",
           "noisy_pareto", "overlaps", "tie_groups"]
