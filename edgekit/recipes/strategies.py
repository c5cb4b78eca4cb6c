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

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "from": self.start.label(), "to": self.end.label(),
                "size_ratio": round(self.size_ratio, 3),
                "speedups": {d: round(v, 3) for d, v in self.speedups.items()},
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
    for c in candidates:
        if c.median_ms is not None and (shas is None or c.artifact_sha256 in shas):
            latency.setdefault(c.artifact_sha256, {})[c.device] = float(c.median_ms)
    out = []
    for m in models:
        if m.width is None or not m.recipe or (shas is not None and m.artifact_sha256 not in shas):
            continue
        q = m.quality if m.quality is not None and not math.isnan(m.quality) else None
        out.append(Point(m.model, float(m.width), m.recipe, m.variant, int(m.size_bytes), q,
                         latency.get(m.artifact_sha256, {})))
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
    for d, s in speedups.items():
        parts.append(f"{d} {_ratio(s, 'faster', 'slower')} ({a.latency_ms[d]:.3f} → {b.latency_ms[d]:.3f} ms)")
    if not speedups:
        parts.append("latency not measured on a common device")
    if delta is not None:
        assert a.quality is not None and b.quality is not None
        parts.append(f"{metric} {a.quality * 100:.2f}% → {b.quality * 100:.2f}% (Δ {delta:+.2f} pp)")
    else:
        parts.append(f"{metric} not evaluated")
    text = parts[0] + " " + ", ".join(parts[1:])
    return Strategy(name, a, b, size_ratio, speedups, delta, text)


def _ratio(r: float, better: str, worse: str) -> str:
    if round(r, 2) == 1.0 or round(1 / r, 2) == 1.0:  # within rounding: neither better nor worse
        same = {"faster": "about as fast", "smaller": "about the same size"}.get(better, "about the same")
        return f"{same} ({r:.3f}×)"
    if r >= 1:
        return f"{r:.2f}× {better}"
    return f"{1 / r:.2f}× {worse}"


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"
