"""Exact Pareto frontiers over any number of objectives.

A point is on the front iff no other point is at least as good in every objective and
strictly better in at least one. Comparisons are exact (no tolerance): two points with
identical coordinates do not dominate each other, so duplicates are all kept and
reported as ties. Points with a missing objective value (``None`` or NaN) cannot be
compared and are set apart in :attr:`ParetoResult.missing`, never silently dropped.

Two entry points:

* :func:`pareto_front` — the simple, typed 2-D case: :class:`Point` (quality higher is
  better, cost lower is better) → the front sorted by cost.
* :func:`pareto_analysis` — the generic n-D case over arbitrary items with
  :class:`Objective` key functions, e.g. quality × latency × size; returns the front,
  the dominated items (each with one item that dominates it), the ties and the missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Literal, Optional, Sequence, TypeVar

from ..stats.noisy_pareto import (AxisValue, NoisyParetoResult, NoisyPoint, better_beyond_noise, noisy_dominates,
                                  noisy_pareto, tie_groups)

T = TypeVar("T")

Sense = Literal["max", "min"]


@dataclass(frozen=True)
class Objective(Generic[T]):
    """One axis of the comparison: a name, how to read it from an item, and its sense."""

    name: str
    key: Callable[[T], Optional[float]]
    sense: Sense = "max"
    #: the value's confidence interval ``(lo, hi)``; None (or returning None) = known exactly
    interval: Optional[Callable[[T], Optional[tuple[Optional[float], Optional[float]]]]] = None

    def __post_init__(self) -> None:
        if self.sense not in ("max", "min"):
            raise ValueError(f"objective {self.name!r}: sense must be 'max' or 'min', not {self.sense!r}")


@dataclass(frozen=True)
class ParetoResult(Generic[T]):
    """The outcome of :func:`pareto_analysis`.

    Attributes:
        front: the non-dominated items, in input order.
        dominated: ``(item, dominator)`` pairs: each dominated item with the first item
            (in input order) that dominates it.
        ties: groups (size ≥ 2) of front items that cannot be told apart: identical
            coordinates (exact), or intervals that overlap on every objective (beyond noise).
        missing: items with a missing (None/NaN) value, with the names of those objectives.
    """

    front: list[T]
    dominated: list[tuple[T, T]]
    ties: list[list[T]]
    missing: list[tuple[T, list[str]]]

    def on_front(self, item: T) -> bool:
        """Whether ``item`` (by identity) is on the front."""
        return any(item is f for f in self.front)

    def tied(self, item: T) -> bool:
        """Whether ``item`` (by identity) is in a tie group."""
        return any(item is x for group in self.ties for x in group)


@dataclass(frozen=True)
class Point:
    """A 2-D point: ``quality`` (higher is better) and ``cost`` (lower is better)."""

    id: str
    quality: Optional[float]
    cost: Optional[float]
    payload: Any = field(default=None, compare=False)


def is_missing(value: Any) -> bool:
    """True for ``None`` and NaN (the values a frontier cannot compare)."""
    if value is None:
        return True
    try:
        return math.isnan(value)
    except TypeError:
        return False


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether vector ``a`` dominates ``b`` (all objectives maximised, exact comparison)."""
    if len(a) != len(b):
        raise ValueError(f"cannot compare vectors of lengths {len(a)} and {len(b)}")
    strictly = False
    for x, y in zip(a, b):
        if x < y:
            return False
        if x > y:
            strictly = True
    return strictly


def pareto_analysis(items: Sequence[T], objectives: Sequence[Objective[T]], exact: bool = True) -> ParetoResult[T]:
    """Split ``items`` into the front, the dominated, the ties and the missing.

    O(n²·d); the item counts of a report (hundreds) make that instant.

    Args:
        items: anything; read through the objectives' key functions.
        objectives: at least one :class:`Objective`.
        exact: compare the values exactly (ties = identical coordinates); with False,
            compare beyond noise (:func:`noisy_analysis`): an item is dominated only when
            another is at least as good within noise on every objective and better beyond
            noise on one, and front items whose intervals overlap on every objective form
            tie groups.

    Returns:
        A :class:`ParetoResult`; every input item appears exactly once in ``front``,
        ``dominated`` or ``missing``.
    """
    if not objectives:
        raise ValueError("pareto_analysis needs at least one objective")
    if not exact:
        return noisy_analysis(items, objectives)
    complete: list[tuple[T, tuple[float, ...]]] = []
    missing: list[tuple[T, list[str]]] = []
    for item in items:
        values = [o.key(item) for o in objectives]
        absent = [o.name for o, v in zip(objectives, values) if is_missing(v)]
        if absent:
            missing.append((item, absent))
            continue
        vec = tuple(float(v) if o.sense == "max" else -float(v)  # type: ignore[arg-type]
                    for o, v in zip(objectives, values))
        complete.append((item, vec))

    front: list[tuple[T, tuple[float, ...]]] = []
    dominated: list[tuple[T, T]] = []
    for item, vec in complete:
        dominator = next((other for other, ovec in complete if dominates(ovec, vec)), None)
        if dominator is None:
            front.append((item, vec))
        else:
            dominated.append((item, dominator))

    groups: dict[tuple[float, ...], list[T]] = {}
    for item, vec in front:
        groups.setdefault(vec, []).append(item)
    ties = [g for g in groups.values() if len(g) > 1]
    return ParetoResult(front=[i for i, _ in front], dominated=dominated, ties=ties, missing=missing)


def _axis(o: Objective[T], item: T) -> AxisValue:
    value = o.key(item)
    value = None if is_missing(value) else float(value)  # type: ignore[arg-type]
    iv = o.interval(item) if (o.interval is not None and value is not None) else None
    if value is None or iv is None or iv[0] is None or iv[1] is None:
        return AxisValue.exact(value, o.sense)     # no interval known: compared as exact
    lo, hi = min(float(iv[0]), value), max(float(iv[1]), value)
    return AxisValue(value, lo, hi, o.sense)


def noisy_analysis(items: Sequence[T], objectives: Sequence[Objective[T]]) -> ParetoResult[T]:
    """:func:`pareto_analysis` beyond noise.

    With one quality and one cost objective (the report's frontiers) the frontier is built as a
    staircase from the cheapest point up: a costlier point joins it only for a quality gain
    beyond noise over the best point already on it (and then replaces the points it is as
    cheap as within noise); a point without such a gain is dominated by a front point that is
    cheaper beyond noise and not worse beyond noise, or else tied with one. Comparing each
    point with the staircase, not with every other point, keeps "within noise" from adding up
    along a chain of neighbours (pairwise "as good within noise" is not transitive: a chain of
    1-point steps would otherwise let the fastest model dominate one 3 points better). With
    other objective sets: :func:`edgekit.stats.noisy_pareto.noisy_pareto`, pairwise.
    """
    points = [NoisyPoint(str(i), {o.name: _axis(o, item) for o in objectives}, payload=item)
              for i, item in enumerate(items)]
    senses = [o.sense for o in objectives]
    res = _staircase(points, objectives) if sorted(senses) == ["max", "min"] else noisy_pareto(points)
    return ParetoResult(front=[p.payload for p in res.front],
                        dominated=[(p.payload, d.payload) for p, d in res.dominated],
                        ties=[[p.payload for p in g] for g in res.ties],
                        missing=[(p.payload, names) for p, names in res.missing])


def _staircase(points: Sequence[NoisyPoint], objectives: Sequence[Objective[Any]]) -> NoisyParetoResult:
    q = next(o.name for o in objectives if o.sense == "max")
    c = next(o.name for o in objectives if o.sense == "min")
    complete = [p for p in points if not (p.axes[q].missing or p.axes[c].missing)]
    missing = [(p, [n for n in (q, c) if p.axes[n].missing]) for p in points
               if p.axes[q].missing or p.axes[c].missing]
    order = sorted(complete, key=lambda p: (p.axes[c].value, -p.axes[q].value))  # type: ignore[operator]
    front: list[NoisyPoint] = []
    dominated: list[tuple[NoisyPoint, NoisyPoint]] = []
    for p in order:
        best = max(front, key=lambda k: k.axes[q].value) if front else None  # type: ignore[arg-type, return-value]
        if best is None or better_beyond_noise(p.axes[q], best.axes[q]):
            for k in list(front):  # as cheap as p within noise, worse beyond noise: p dominates them
                if not better_beyond_noise(k.axes[c], p.axes[c]) and better_beyond_noise(p.axes[q], k.axes[q]):
                    front.remove(k)
                    dominated.append((k, p))
            front.append(p)
            continue
        dom = next((k for k in front if noisy_dominates(k, p, (q, c))), None)
        if dom is not None:
            dominated.append((p, dom))
        else:
            front.append(p)
    ids = {id(p): i for i, p in enumerate(complete)}
    front.sort(key=lambda p: ids[id(p)])
    return NoisyParetoResult(front, dominated, tie_groups(front), missing)


_POINT_OBJECTIVES: tuple[Objective[Point], ...] = (
    Objective("quality", lambda p: p.quality, "max"),
    Objective("cost", lambda p: p.cost, "min"),
)


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """The non-dominated points over quality (max) × cost (min), sorted by cost then id.

    Duplicates on the front are all returned; points with a missing coordinate are
    excluded (use :func:`pareto_analysis` to get them and the ties listed).
    """
    result = pareto_analysis(points, _POINT_OBJECTIVES)
    return sorted(result.front, key=lambda p: (p.cost, -p.quality, p.id))  # type: ignore[operator]


def staircase(front: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The step line of a 2-D quality-vs-cost front, for plotting.

    Args:
        front: ``(cost, quality)`` pairs of the front points.

    Returns:
        ``(xs, ys)`` tracing the boundary of the dominated region: from each point the
        line runs right at its quality until the next (costlier, better) point.
    """
    pts = sorted(set(front))
    xs: list[float] = []
    ys: list[float] = []
    for i, (x, y) in enumerate(pts):
        if i:
            xs.append(x)
            ys.append(ys[-1])
        xs.append(x)
        ys.append(y)
    return xs, ys


__all__ = ["Objective", "ParetoResult", "Point", "dominates", "is_missing", "pareto_analysis",
           "pareto_front", "staircase"]
