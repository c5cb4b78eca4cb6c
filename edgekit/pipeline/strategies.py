"""The paper's two strategies, stated in measured numbers from a results store.

- **Shrink-and-Improve**: the largest width, fp32, baseline → the smallest width, improved
  (distillation, else augmentation), quantized (int8): N× smaller, M× faster on each
  device, quality Δ.
- **Grow-Improve-Shrink**: the smallest width, fp32, baseline → the next larger width,
  improved, quantized: how much quality the same (or a smaller) budget buys.

A strategy is stated only when both of its points exist in the store (a model that was
not trained, converted or evaluated leaves it out, with the reason in ``missing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

#: improved recipes, best first
IMPROVED: tuple[str, ...] = ("distillation", "augmentation")
#: quantized variants, preferred first
QUANTIZED: tuple[str, ...] = ("int8", "int16x8", "dynamic", "fp16")


@dataclass(frozen=True)
class Point:
    """One model file of the family with what is known about it."""

    model: str
    width: float
    recipe: str
    variant: str
    size_bytes: int
    quality: Optional[float]                       # a fraction (top-1 0.84)
    latency_ms: dict[str, float] = field(default_factory=dict)   # device → median
    latency_ci_ms: dict[str, tuple[float, float]] = field(default_factory=dict)   # device → its 95 % interval
    quality_ci: Optional[tuple[float, float]] = None

    def label(self) -> str:
        return f"w={self.width:g} {self.recipe} {self.variant}"


@dataclass(frozen=True)
class Strategy:
    """A strategy's two points and the ratios between them."""

    name: str
    start: Point
    end: Point
    size_ratio: float                              # start size ÷ end size (> 1: smaller)
    speedups: dict[str, float]                     # device → start latency ÷ end latency
    quality_delta_pp: Optional[float]              # end − start, in percentage points
    text: str
    speedup_ci: dict[str, tuple[float, float]] = field(default_factory=dict)   # device → 95 % interval

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "from": self.start.label(), "to": self.end.label(),
                "size_ratio": round(self.size_ratio, 3),
                "speedups": {d: round(v, 3) for d, v in self.speedups.items()},
                "speedup_ci95": {d: [round(lo, 3), round(hi, 3)] for d, (lo, hi) in self.speedup_ci.items()},
                "latency_ms": {d: [self.start.latency_ms.get(d), self.end.latency_ms.get(d)]
                               for d in self.speedups},
                "quality": [self.start.quality, self.end.quality],
                "quality_delta_pp": None if self.quality_delta_pp is None else round(self.quality_delta_pp, 2),
                "text": self.text}


def points_from_candidates(models: Iterable[Any], candidates: Iterable[Any],
                           shas: Optional[set[str]] = None) -> list[Point]:
    """Points from the report's collected candidates (``edgekit.report.collect``).

    Args:
        models: device-independent candidates (one per artifact).
        candidates: per-device candidates (one per artifact × device with a measurement).
        shas: keep only these artifacts (e.g. this run's), None = all.
    """
    latency: dict[str, dict[str, float]] = {}
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for c in candidates:
        if c.median_ms is not None and (shas is None or c.artifact_sha256 in shas):
            latency.setdefault(c.artifact_sha256, {})[c.device] = float(c.median_ms)
            if getattr(c, "median_ci_ms", None):
                intervals.setdefault(c.artifact_sha256, {})[c.device] = tuple(c.median_ci_ms)
    out = []
    for m in models:
        if m.width is None or not m.recipe or (shas is not None and m.artifact_sha256 not in shas):
            continue
        q = m.quality if m.quality is not None and not math.isnan(m.quality) else None
        out.append(Point(m.model, float(m.width), m.recipe, m.variant, int(m.size_bytes), q,
                         latency.get(m.artifact_sha256, {}), intervals.get(m.artifact_sha256, {}),
                         getattr(m, "quality_ci", None)))
    return out


def _find(points: Sequence[Point], width: float, recipes: Sequence[str], variants: Sequence[str]) -> Optional[Point]:
    for r in recipes:
        for v in variants:
            for p in points:
                if p.width == width and p.recipe == r and p.variant == v:
                    return p
    return None


def strategies(points: Sequence[Point], metric: str = "top-1") -> tuple[list[Strategy], list[str]]:
    """The two strategies that the points support, and why any is missing.

    Returns:
        ``(strategies, missing)``: the stated strategies, and one sentence per strategy that
        could not be stated.
    """
    widths = sorted({p.width for p in points})
    found: list[Strategy] = []
    missing: list[str] = []
    if len(widths) < 2:
        return [], ["the strategies need at least two widths of the family"]
    small, large = widths[0], widths[-1]
    start = _find(points, large, ("baseline",), ("fp32",))
    end = _find(points, small, IMPROVED, QUANTIZED)
    if start and end:
        found.append(_state("Shrink-and-Improve", start, end, metric))
    else:
        missing.append(f"Shrink-and-Improve needs w={large:g} baseline fp32 and w={small:g} "
                       f"{' or '.join(IMPROVED)} quantized ({'/'.join(QUANTIZED)})")
    grown = widths[1]
    start = _find(points, small, ("baseline",), ("fp32",))
    end = _find(points, grown, IMPROVED, QUANTIZED)
    if start and end:
        found.append(_state("Grow-Improve-Shrink", start, end, metric))
    else:
        missing.append(f"Grow-Improve-Shrink needs w={small:g} baseline fp32 and w={grown:g} "
                       f"{' or '.join(IMPROVED)} quantized")
    return found, missing


def _state(name: str, a: Point, b: Point, metric: str) -> Strategy:
    size_ratio = a.size_bytes / b.size_bytes if b.size_bytes else math.inf
    speedups = {d: a.latency_ms[d] / b.latency_ms[d] for d in sorted(a.latency_ms)
                if d in b.latency_ms and b.latency_ms[d] > 0}
    delta = (b.quality - a.quality) * 100 if a.quality is not None and b.quality is not None else None
    parts = [f"{name}: {a.label()} → {b.label()}:",
             f"{_ratio(size_ratio, 'smaller', 'larger')} ({_kb(a.size_bytes)} → {_kb(b.size_bytes)})"]
    cis: dict[str, tuple[float, float]] = {}
    for d, s in speedups.items():
        ci = _speedup_ci(a, b, d)
        note = ""
        if ci is not None:
            cis[d] = ci
            note = f", 95% CI {ci[0]:.2f}–{ci[1]:.2f}×" + (" — no difference beyond noise" if ci[0] <= 1 <= ci[1]
                                                             else "")
        parts.append(f"{d} {_ratio(s, 'faster', 'slower')} ({a.latency_ms[d]:.3f} → {b.latency_ms[d]:.3f} ms{note})")
    if not speedups:
        parts.append("latency not measured on a common device")
    if delta is not None:
        assert a.quality is not None and b.quality is not None
        same = (a.quality_ci is not None and b.quality_ci is not None
                and a.quality_ci[1] >= b.quality_ci[0] and b.quality_ci[1] >= a.quality_ci[0])
        parts.append(f"{metric} {a.quality * 100:.2f}% → {b.quality * 100:.2f}% (Δ {delta:+.2f} pp"
                     + (", within the 95% intervals" if same else "") + ")")
    else:
        parts.append(f"{metric} not evaluated")
    text = parts[0] + " " + ", ".join(parts[1:])
    return Strategy(name, a, b, size_ratio, speedups, delta, text, cis)


def _speedup_ci(a: Point, b: Point, device: str) -> Optional[tuple[float, float]]:
    from ..stats.ratio import ratio_from_intervals

    ia, ib = a.latency_ci_ms.get(device), b.latency_ci_ms.get(device)
    if not ia or not ib:
        return None
    est = ratio_from_intervals((a.latency_ms[device], *ia), (b.latency_ms[device], *ib))
    return (est.lo, est.hi) if est.known else None  # type: ignore[return-value]


def _ratio(r: float, better: str, worse: str) -> str:
    if round(r, 2) == 1.0 or round(1 / r, 2) == 1.0:  # within rounding: neither better nor worse
        same = {"faster": "about as fast", "smaller": "about the same size"}.get(better, "about the same")
        return f"{same} ({r:.3f}×)"
    if r >= 1:
        return f"{r:.2f}× {better}"
    return f"{1 / r:.2f}× {worse}"


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"
