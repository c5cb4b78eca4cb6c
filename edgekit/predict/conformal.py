"""Prediction intervals by conformal calibration on log-ratio residuals.

A point predictor's error is scored on held-out models as ``|log(measured / predicted)|``.
For nominal level ``1 - α`` the interval of a new prediction ``p`` is
``[p·e^-q, p·e^q]`` with ``q`` the ``⌈(n+1)(1-α)⌉``-th smallest of the ``n`` held-out scores:
split-conformal prediction, which covers a new exchangeable model with probability at
least ``1 - α`` (and at most ``1 - α + 1/(n+1)``). Scores are kept per dtype (Mondrian
conformal) when a dtype has enough of them, because int8 and fp32 kernels do not err alike.

:func:`edgekit.predict.predictor.fit` gets the scores from architecture-held-out
predictions on the training set (cross-conformal), so no measurement is set aside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import ConfigError

#: fewest scores for a dtype to get its own quantile
MIN_GROUP_SCORES = 20


def conformal_quantile(scores: Sequence[float], level: float) -> float:
    """The split-conformal quantile of non-negative ``scores`` at nominal ``level``
    (``inf`` when there are too few scores for that level).

    Raises:
        ConfigError: the level is not in (0, 1) or there are no scores.
    """
    if not 0 < level < 1:
        raise ConfigError(f"interval level {level!r} is not in (0, 1)", hint="use e.g. 0.9")
    s = np.sort(np.asarray(scores, dtype=float))
    if s.size == 0:
        raise ConfigError("no held-out residuals to calibrate an interval on",
                          hint="fit on more architectures (at least a few per fold)")
    k = math.ceil((s.size + 1) * level)
    return float("inf") if k > s.size else float(s[k - 1])


def log_scores(measured: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``|log(measured / predicted)|`` (predictions floored at a nanosecond)."""
    return np.abs(np.log(np.asarray(measured, float) / np.maximum(np.asarray(predicted, float), 1e-6)))


@dataclass
class Calibration:
    """Conformal half-widths (in log space), overall and per dtype."""

    level: float
    q: float
    by_group: dict[str, float] = field(default_factory=dict)
    n: int = 0

    @classmethod
    def from_scores(cls, scores: np.ndarray, groups: Sequence[str], level: float) -> "Calibration":
        scores = np.asarray(scores, float)
        by = {}
        for g in sorted(set(groups)):
            sel = scores[np.array([x == g for x in groups])]
            if sel.size >= MIN_GROUP_SCORES:
                by[g] = conformal_quantile(sel, level)
        return cls(level, conformal_quantile(scores, level), by, int(scores.size))

    def half_width(self, group: str = "") -> float:
        return self.by_group.get(group, self.q)

    def interval(self, predicted_ms: float, group: str = "") -> tuple[float, float]:
        q = self.half_width(group)
        return predicted_ms * math.exp(-q), predicted_ms * math.exp(q)  # exp(inf) is inf

    def to_dict(self) -> dict[str, object]:
        return {"level": self.level, "q": self.q, "by_group": dict(self.by_group), "n": self.n}


def coverage(measured: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """The share of measurements inside their intervals."""
    m = np.asarray(measured, float)
    return float(np.mean((m >= np.asarray(lo)) & (m <= np.asarray(hi)))) if m.size else float("nan")
