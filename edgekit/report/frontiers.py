"""The report's frontiers: quality × latency per device, quality × size (device-independent).

Flagged runs (noisy, heated, throttled, few-samples) are marked everywhere. With
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

QUALITY: Objective[Candidate] = Objective("quality", lambda c: c.quality, "max")
LATENCY: Objective[Candidate] = Objective("median latency", lambda c: c.median_ms, "min")
SIZE: Objective[Candidate] = Objective("size", lambda c: float(c.size_bytes), "min")


@dataclass(frozen=True)
class Frontiers:
    """Pareto results of a report and the per-candidate status they imply."""

    size: ParetoResult[Candidate]
    latency: dict[str, ParetoResult[Candidate]]
    flagged: str

    def _result(self, c: Candidate) -> ParetoResult[Candidate]:
        return self.size if c.device is None else self.latency[c.device]

    def excluded(self, c: Candidate) -> str:
        """Why ``c`` is not compared at all ("" when it is)."""
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
        return sorted(self.latency[device].front, key=lambda c: (c.median_ms, c.size_bytes, c.label))


def usable(cands: Sequence[Candidate], flagged: str) -> list[Candidate]:
    """The candidates the frontier and the recommendation may use."""
    return [c for c in cands if not (flagged == "exclude" and c.flagged)]


def compute_frontiers(data: ReportData, devices: Sequence[str], flagged: str = "mark") -> Frontiers:
    """Quality × size over every artifact, and quality × latency per device."""
    if flagged not in FLAGGED_POLICIES:
        raise ConfigError(f"flagged policy {flagged!r} is not one of {', '.join(FLAGGED_POLICIES)}")
    size = pareto_analysis(data.models, (QUALITY, SIZE))
    latency = {d: pareto_analysis(usable(data.for_device(d), flagged), (QUALITY, LATENCY)) for d in devices}
    return Frontiers(size=size, latency=latency, flagged=flagged)


__all__ = ["FLAGGED_POLICIES", "Frontiers", "LATENCY", "QUALITY", "SIZE", "compute_frontiers", "usable"]
