"""Replicability across sessions: MLPerf Mobile's "all within 5 % of each other" rule.

A result is **stable** when the medians of every session (a session = one
warm-up + timed run, typically after a cool-down; MLPerf Mobile runs it several times)
lie within ``tolerance`` of each other, i.e. ``max / min − 1 ≤ tolerance``. The spread
is reported either way, so a report can show how far apart the sessions were. Fewer than
two sessions cannot show replicability: the verdict is then ``cannot-judge``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

from edgekit.errors import ConfigError
from edgekit.stats.estimate import as_samples

StabilityState = Literal["stable", "unstable", "cannot-judge"]


@dataclass(frozen=True)
class StabilityVerdict:
    """The replicability verdict.

    Attributes:
        state: ``stable``, ``unstable`` or ``cannot-judge`` (fewer than two sessions).
        spread: ``max / min − 1`` of the session medians (0.0 for one session).
        sessions: how many session medians were compared.
        lowest, highest: the extreme session medians.
        tolerance: the allowed spread.
        rule: the rule in words.
    """

    state: StabilityState
    spread: float
    sessions: int
    lowest: float
    highest: float
    tolerance: float
    rule: str

    @property
    def stable(self) -> bool:
        return self.state == "stable"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stability(session_medians: Sequence[float], tolerance: float = 0.05) -> StabilityVerdict:
    """Whether the session medians are all within ``tolerance`` of each other.

    Args:
        session_medians: one positive median per session (any unit, all the same).
        tolerance: the allowed ``max / min − 1`` (0.05 = MLPerf Mobile's 5 %).
    """
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ConfigError(f"stability tolerance {tolerance!r} is not a non-negative number",
                          hint="pass a fraction, e.g. 0.05 for 5 %")
    arr = as_samples(session_medians, "session medians", positive=True)
    lowest, highest = float(arr.min()), float(arr.max())
    spread = highest / lowest - 1.0
    rule = f"stable iff every session median is within {tolerance * 100:g} % of every other (max/min − 1)"
    if arr.size < 2:
        state: StabilityState = "cannot-judge"
    else:
        state = "stable" if spread <= tolerance + 1e-12 else "unstable"
    return StabilityVerdict(state, spread, int(arr.size), lowest, highest, float(tolerance), rule)


__all__ = ["StabilityState", "StabilityVerdict", "stability"]
