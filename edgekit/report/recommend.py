"""Which model to ship on a device, under the user's constraints.

``best`` is the highest-quality qualifying candidate — beyond noise: the qualifying
candidates whose quality interval (Wilson, from the test-set size) overlaps the leader's
are statistically indistinguishable from it, and among them the **smaller, then faster**
one is picked (the others are listed in ``ties``). With ``exact=True``, or without
intervals, quality is compared as a number and ties are broken by lower median latency,
then smaller size, then name (so the answer is deterministic). A candidate with
no quality value ranks after every candidate with one (and cannot meet ``min_quality``).
When nothing qualifies, the closest candidates are ranked by their total normalised
violation — the sum over broken constraints of ``excess / limit`` (a missing value for a
constrained quantity counts as infinitely far) — each with the constraints it breaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Sequence

from ..errors import ConfigError
from .collect import Candidate, QualityScale


@dataclass(frozen=True)
class Constraints:
    """Upper bounds on latency and size, a lower bound on quality; None = unconstrained."""

    max_latency_ms: Optional[float] = None
    max_size_kb: Optional[float] = None
    min_quality: Optional[float] = None

    def __post_init__(self) -> None:
        for name in ("max_latency_ms", "max_size_kb"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} {value} must be a positive number",
                                  hint=f"omit {flag} for no limit")
        if self.min_quality is not None and not math.isfinite(self.min_quality):
            raise ConfigError(f"--min-quality {self.min_quality} must be a finite number")

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.max_latency_ms, self.max_size_kb, self.min_quality))

    def describe(self, scale: Optional[QualityScale] = None) -> list[str]:
        """Human-readable constraints, e.g. ``["latency ≤ 3 ms", "size ≤ 200 KB"]``."""
        out = []
        if self.max_latency_ms is not None:
            out.append(f"median latency ≤ {self.max_latency_ms:g} ms")
        if self.max_size_kb is not None:
            out.append(f"size ≤ {self.max_size_kb:g} KB")
        if self.min_quality is not None:
            q = scale.show(self.min_quality) if scale else f"{self.min_quality:g}"
            out.append(f"{scale.metric if scale else 'quality'} ≥ {q}")
        return out


class Near(NamedTuple):
    """A candidate that misses the constraints, with what it breaks (closest first)."""

    candidate: Candidate
    broken: list[str]
    violation: float


@dataclass(frozen=True)
class Recommendation:
    """The answer for one device (``device`` None: size × quality only, no latency)."""

    device: Optional[str]
    constraints: Constraints
    best: Optional[Candidate]
    qualifying: list[Candidate]
    closest: list[Near] = field(default_factory=list)
    considered: int = 0
    #: qualifying candidates statistically indistinguishable from ``best`` in quality
    ties: list[Candidate] = field(default_factory=list)
    rule: str = "highest quality, then faster, then smaller"

    @property
    def found(self) -> bool:
        return self.best is not None


def rank_key(c: Candidate) -> tuple[float, float, float, str]:
    """Sort key: quality (desc, missing last), median latency (asc), size (asc), label."""
    q = -c.quality if c.quality is not None and not math.isnan(c.quality) else math.inf
    lat = c.latency_ms if c.latency_ms is not None else math.inf
    return (q, lat, float(c.size_bytes), c.label)


def indistinguishable(a: Candidate, b: Candidate) -> bool:
    """Whether the qualities of ``a`` and ``b`` differ by less than the noise of their test sets:
    ``|q_a − q_b| ≤ 1.96 × sqrt(se_a² + se_b²)``, each ``se`` read off its 95 % Wilson interval.
    (Two overlapping intervals are a weaker criterion; per-sample predictions, which a paired test
    such as McNemar's would need, are not stored.)"""
    if a.quality is None or b.quality is None or a.quality_ci is None or b.quality_ci is None:
        return False
    se_a = (a.quality_ci[1] - a.quality_ci[0]) / (2 * 1.959964)
    se_b = (b.quality_ci[1] - b.quality_ci[0]) / (2 * 1.959964)
    return abs(a.quality - b.quality) <= 1.959964 * math.hypot(se_a, se_b)


def violations(c: Candidate, cons: Constraints, scale: Optional[QualityScale] = None) -> tuple[list[str], float]:
    """The constraints ``c`` breaks, as text, and its total normalised violation."""
    broken: list[str] = []
    total = 0.0
    if cons.max_latency_ms is not None:
        lat = c.latency_ms
        if lat is None:
            broken.append("latency not measured")
            total = math.inf
        elif lat > cons.max_latency_ms:
            broken.append(f"latency {_num(lat)} ms > {cons.max_latency_ms:g} ms")
            total += (lat - cons.max_latency_ms) / cons.max_latency_ms
    if cons.max_size_kb is not None and c.size_kb > cons.max_size_kb:
        broken.append(f"size {_num(c.size_kb)} KB > {cons.max_size_kb:g} KB")
        total += (c.size_kb - cons.max_size_kb) / cons.max_size_kb
    if cons.min_quality is not None:
        name = scale.metric if scale else "quality"
        if c.quality is None or math.isnan(c.quality):
            broken.append(f"{name} not evaluated")
            total = math.inf
        elif c.quality < cons.min_quality:
            show = scale.show if scale else (lambda v: f"{v:g}")
            broken.append(f"{name} {show(c.quality)} < {show(cons.min_quality)}")
            total += (cons.min_quality - c.quality) / (abs(cons.min_quality) or 1.0)
    return broken, total


def recommend(candidates: Sequence[Candidate], device: Optional[str] = None,
              max_latency_ms: Optional[float] = None, max_size_kb: Optional[float] = None,
              min_quality: Optional[float] = None, scale: Optional[QualityScale] = None,
              closest: int = 3, exact: bool = False) -> Recommendation:
    """The best candidate for ``device`` under the constraints.

    Args:
        candidates: candidates of any devices; only those with ``c.device == device``
            are considered.
        device: the device name, or None for the device-independent candidates.
        max_latency_ms: median latency must be ≤ this.
        max_size_kb: model file size (KiB, 1024 bytes) must be ≤ this.
        min_quality: quality (as stored, e.g. 0.85 for top-1 85 %) must be ≥ this.
        scale: how to print quality values in the broken-constraint texts.
        closest: how many near misses to list when nothing qualifies.
        exact: compare quality as a number (no intervals).

    Returns:
        A :class:`Recommendation`; ``best`` is None when nothing qualifies, and
        ``closest`` then lists the near misses with the constraints each one breaks.
    """
    cons = Constraints(max_latency_ms, max_size_kb, min_quality)
    pool = [c for c in candidates if c.device == device]
    ok: list[Candidate] = []
    near: list[Near] = []
    for c in pool:
        broken, total = violations(c, cons, scale)
        if broken:
            near.append(Near(c, broken, total))
        else:
            ok.append(c)
    ok.sort(key=rank_key)
    near.sort(key=lambda n: (n.violation, rank_key(n.candidate)))
    best, ties, rule = (ok[0] if ok else None), [], "highest quality, then faster, then smaller"
    if ok and not exact and ok[0].quality_ci is not None:
        group = [c for c in ok if c is ok[0] or indistinguishable(ok[0], c)]
        best = min(group, key=lambda c: (c.size_bytes, c.latency_ms if c.latency_ms is not None else math.inf,
                                         c.label))
        ties = [c for c in group if c is not best]
        rule = ("highest quality beyond noise (a difference within 1.96 standard errors of the two accuracies, "
                "from their 95 % Wilson intervals, is no difference); among those the smaller, then the faster")
    return Recommendation(device=device, constraints=cons, best=best, qualifying=ok,
                          closest=[] if ok else near[:closest], considered=len(pool), ties=ties, rule=rule)


def candidate_facts(c: Candidate, scale: Optional[QualityScale] = None) -> str:
    """``top1 84.2%, 0.52 ms (p10–p90 0.50–0.55), 111 KB`` — the figures behind an answer."""
    parts = []
    if c.quality is not None:
        parts.append(f"{scale.metric} {scale.show(c.quality)}" if scale else f"quality {c.quality:g}")
    if c.latency_ms is not None:
        from .spread import spread_text

        spread = spread_text(c, _num)
        parts.append(f"{_num(c.latency_ms)} ms" + (f" ({spread})" if spread else ""))
    parts.append(f"{_num(c.size_kb)} KB")
    if c.flags:
        parts.append("flagged: " + ", ".join(c.flags))
    return ", ".join(parts)


def describe(rec: Recommendation, scale: Optional[QualityScale] = None) -> str:
    """One line per device: the answer, or the closest misses and what they break."""
    where = rec.device or "any device (size × quality)"
    if rec.best is not None:
        text = f"{where}: {rec.best.label} — {candidate_facts(rec.best, scale)}"
        if rec.ties:
            text += (f"; statistically indistinguishable in quality from {', '.join(c.label for c in rec.ties)} "
                     "(picked the smaller, then faster)")
        return text
    if not rec.considered:
        return f"{where}: no candidates"
    near = "; ".join(f"{n.candidate.label} ({', '.join(n.broken)})" for n in rec.closest)
    return f"{where}: nothing meets the constraints; closest: {near}"


def _num(x: float) -> str:
    """A number with 3 significant digits, no exponent for report-sized values."""
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


__all__ = ["Constraints", "Near", "Recommendation", "candidate_facts", "describe", "rank_key", "recommend",
           "violations"]
