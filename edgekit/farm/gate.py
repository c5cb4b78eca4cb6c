"""The regression gate: compare a lab run's results with a baseline results file.

A job *regresses* when its median latency is worse than the baseline's by more than a
noise-aware margin::

    median_new > median_base + max(pct × median_base, k × sqrt(s_new² + s_base²))

where ``s`` is a run's spread, ``(p90 − p10) / 2``: the half-width of the middle 80 % of
its warm samples. Percentiles rather than the standard deviation, because latency
samples have a long right tail (a preempted run, a page fault) that inflates ``std``
without moving the median. For normally distributed samples ``s ≈ 1.28 σ``. The
defaults (5 %, k = 3) make a flaky pass far likelier than a false alarm on a shared CI
device; tighten them per lab with ``--margin-pct`` / ``--margin-k``.

A job also fails the gate when a quality record of its artifact (same metric and
dataset as in the baseline) dropped by more than ``max_quality_drop`` (absolute,
default 0.01 = one point of top-1), and when the job itself failed.

Jobs are matched by name (``model[variant] on target``), thread count and delegate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Optional

#: verdicts that fail the gate
FAILING = ("failed", "regressed", "quality-drop", "unfinished")


@dataclass(frozen=True)
class GateSettings:
    """How much worse than the baseline a job may be."""

    margin_pct: float = 0.05
    margin_k: float = 3.0
    max_quality_drop: float = 0.01

    def describe(self) -> str:
        """The rule in words, printed with the results."""
        return (f"regression when median > baseline median + max({self.margin_pct * 100:g}% × baseline, "
                f"{self.margin_k:g} × √(s_new² + s_base²)), s = (p90 − p10)/2; "
                f"quality drop > {self.max_quality_drop:g}")


@dataclass(frozen=True)
class Verdict:
    """The gate's verdict on one job."""

    name: str
    status: str                          # pass | new | regressed | quality-drop | failed | unfinished
    median_us: Optional[float] = None
    baseline_us: Optional[float] = None
    margin_us: Optional[float] = None
    reason: str = ""

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    @property
    def delta_pct(self) -> Optional[float]:
        if self.median_us is None or not self.baseline_us:
            return None
        return (self.median_us - self.baseline_us) / self.baseline_us * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delta_pct": self.delta_pct}


@dataclass(frozen=True)
class GateReport:
    """Every job's verdict, and the baseline jobs this run did not have."""

    settings: GateSettings
    verdicts: tuple[Verdict, ...]
    missing: tuple[str, ...] = ()
    baseline: Optional[str] = None

    @property
    def passed(self) -> bool:
        return not any(v.failing for v in self.verdicts)

    def verdict(self, name: str) -> Optional[Verdict]:
        return next((v for v in self.verdicts if v.name == name), None)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.verdicts:
            out[v.status] = out.get(v.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.settings.describe(), "settings": asdict(self.settings), "baseline": self.baseline,
                "passed": self.passed, "counts": self.counts(), "missing": list(self.missing),
                "verdicts": [v.to_dict() for v in self.verdicts]}


def spread_us(latency: dict[str, Any]) -> float:
    """A run's spread: ``(p90 − p10) / 2`` of its warm samples, in µs."""
    return max(0.0, (float(latency["p90_us"]) - float(latency["p10_us"])) / 2.0)


def margin_us(new: dict[str, Any], base: dict[str, Any], settings: GateSettings) -> float:
    """How far above the baseline median the new median may be, in µs."""
    noise = math.hypot(spread_us(new), spread_us(base))
    return max(settings.margin_pct * float(base["median_us"]), settings.margin_k * noise)


def _match_key(job: dict[str, Any]) -> tuple[str, int, str]:
    s = job.get("settings") or {}
    return (job["name"], int(s.get("threads", 1)), str(s.get("delegate", "cpu")))


def check(results: dict[str, Any], baseline: Optional[dict[str, Any]] = None,
          settings: GateSettings = GateSettings(), baseline_name: Optional[str] = None) -> GateReport:
    """Judge every job of ``results`` (against ``baseline`` when given)."""
    base_jobs = {_match_key(j): j for j in (baseline or {}).get("jobs", []) if j.get("state") == "done"}
    verdicts: list[Verdict] = []
    seen: set[tuple[str, int, str]] = set()
    for job in results.get("jobs", []):
        key = _match_key(job)
        seen.add(key)
        verdicts.append(_judge(job, base_jobs.get(key), settings))
    missing = tuple(k[0] for k in base_jobs if k not in seen)
    return GateReport(settings, tuple(verdicts), missing, baseline_name)


def _judge(job: dict[str, Any], base: Optional[dict[str, Any]], settings: GateSettings) -> Verdict:
    name, lat = job["name"], job.get("latency")
    if job.get("state") == "failed":
        return Verdict(name, "failed", reason=job.get("error") or "failed")
    if job.get("state") != "done" or not lat:
        return Verdict(name, "unfinished", reason=f"not measured (state {job.get('state')})")
    median = float(lat["median_us"])
    if base is None or not base.get("latency"):
        return Verdict(name, "new" if base is None else "pass", median_us=median,
                       reason="no baseline for this job" if base is None else "")
    blat = base["latency"]
    bmed = float(blat["median_us"])
    margin = margin_us(lat, blat, settings)
    problems: list[str] = []
    status = "pass"
    if median > bmed + margin:
        status = "regressed"
        problems.append(f"median {median / 1000:.3f} ms > baseline {bmed / 1000:.3f} ms + margin "
                        f"{margin / 1000:.3f} ms ({(median - bmed) / bmed * 100:+.1f}%)")
    for metric, old in (base.get("quality") or {}).items():
        new = (job.get("quality") or {}).get(metric)
        if new is not None and old - new > settings.max_quality_drop:
            status = "regressed" if status == "regressed" else "quality-drop"
            problems.append(f"{metric} dropped {old:.4f} → {new:.4f} (more than {settings.max_quality_drop:g})")
    return Verdict(name, status, median_us=median, baseline_us=bmed, margin_us=margin, reason="; ".join(problems))
