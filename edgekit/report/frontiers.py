"""The report's frontiers: quality × latency per device, quality × size (device-independent).

Frontiers decide beyond noise (see :func:`compute_frontiers`); ``exact`` frontiers stay available.
Flagged runs (noisy, heated, throttled, few-samples, unstable) are marked everywhere. With
``flagged="mark"`` (default) they still take part in the frontier and recommendation —
and are marked as such; with ``flagged="exclude"`` they are kept in the tables but left
out of both, with the reason shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Sequence

from ..errors import ConfigError
from .collect import Candidate, ReportData
from .pareto import Objective, ParetoResult, pareto_analysis

FlaggedPolicy = Literal["mark", "exclude"]
FLAGGED_POLICIES = ("mark", "exclude")

QUALITY: Objective[Candidate] = Objective("quality", lambda c: c.quality, "max", lambda c: c.quality_ci)
LATENCY: Objective[Candidate] = Objective("median latency", lambda c: c.latency_ms, "min", lambda c: c.median_ci_ms)
SIZE: Objective[Candidate] = Objective("size", lambda c: float(c.size_bytes), "min")   # known exactly


@dataclass(frozen=True)
class Frontiers:
    """Pareto results of a report and the per-candidate status they imply."""

    size: ParetoResult[Candidate]
    latency: dict[str, ParetoResult[Candidate]]
    flagged: str
    exact: bool = False
    emulated: bool = False

    def _result(self, c: Candidate) -> ParetoResult[Candidate]:
        return self.size if c.device is None else self.latency[c.device]

    def excluded(self, c: Candidate) -> str:
        """Why ``c`` is not compared at all ("" when it is)."""
        if "emulated" in c.flags and not self.emulated:
            return "excluded: measured on an emulated CPU (its timings say nothing about the hardware)"
        if self.flagged == "exclude" and c.flagged:
            return "excluded: " + ", ".join(c.flags)
        res = self._result(c)
        for item, names in res.missing:
            if item is c:
                return "no " + " / ".join(names)
        return ""

    def status(self, c: Candidate) -> str:
        """``"tie"``, ``"front"``, ``"dominated"`` — or why it is excluded."""
        why = self.excluded(c)
        if why:
            return why
        res = self._result(c)
        if res.tied(c):
            return "tie"
        return "front" if res.on_front(c) else "dominated"

    def front(self, device: Optional[str]) -> list[Candidate]:
        """Front members sorted by cost (latency, or size for ``device=None``)."""
        if device is None:
            return sorted(self.size.front, key=lambda c: (c.size_bytes, c.label))
        return sorted(self.latency[device].front, key=lambda c: (c.latency_ms, c.size_bytes, c.label))


def usable(cands: Sequence[Candidate], flagged: str, emulated: bool = False) -> list[Candidate]:
    """The candidates the frontier and the recommendation may use: never emulated-CPU timings
    (unless ``emulated``), and flagged ones only with ``flagged="mark"``."""
    return [c for c in cands if not (flagged == "exclude" and c.flagged)
            and (emulated or "emulated" not in c.flags)]


def compute_frontiers(data: ReportData, devices: Sequence[str], flagged: str = "mark",
                      exact: bool = False, emulated: bool = False) -> Frontiers:
    """Quality × size over every artifact, and quality × latency per device.

    By default a candidate is dominated only beyond noise (the quality's Wilson interval,
    the median latency's confidence interval; sizes are exact), and front candidates that
    cannot be told apart on any axis form tie groups; ``exact=True`` compares the point
    values alone, as a frontier of medians would.
    """
    if flagged not in FLAGGED_POLICIES:
        raise ConfigError(f"flagged policy {flagged!r} is not one of {', '.join(FLAGGED_POLICIES)}")
    size = pareto_analysis(data.models, (QUALITY, SIZE), exact=exact)
    latency = {d: pareto_analysis(usable(data.for_device(d), flagged, emulated), (QUALITY, LATENCY), exact=exact)
               for d in devices}
    return Frontiers(size=size, latency=latency, flagged=flagged, exact=exact, emulated=emulated)


__all__ = ["FLAGGED_POLICIES", "Frontiers", "LATENCY", "QUALITY", "SIZE", "compute_frontiers", "usable"]
