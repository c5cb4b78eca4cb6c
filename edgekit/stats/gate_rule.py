"""The regression rule of the CI gate, as a pure decision on a relative-change interval.

Rule (defaults): a job **regressed** iff the one-sided 95 % *lower* confidence bound of
its relative change ``median_new / median_base − 1`` exceeds ``+5 %``; it **improved**
iff the one-sided 95 % *upper* bound is below ``−5 %``; it is **ok** otherwise, and
**cannot-judge** when the change has no finite interval (too few samples, a summary
without count or spread). The one-sided 95 % bounds are the ends of the two-sided 90 %
interval (``level = 2·confidence − 1``).

Why these numbers:

* False alarms. The rule tests H0 "the true change ≤ margin" at one-sided level
  ``1 − confidence``: for *any* true change up to +5 % (A/A, or drift between sessions
  within MLPerf Mobile's 5 % replicability tolerance) the chance of "regressed" is at
  most 5 % if the interval is calibrated, and far less for an A/A pair (≈ 0 with ~1000
  samples). The margin absorbs session-to-session drift (frequency, temperature) that
  within-run samples cannot see.
* Power. A true +10 % change is flagged with probability ≥ 95 % when
  ``10 % − 5 % ≥ 2 × 1.645 × se``, ``se`` the log-ratio's standard error; with ~1000
  samples per run that holds while the run's robust spread stays below ≈ 25 % of the
  median (``se_median ≈ 1.25 σ/√n``). ``benchmarks/stats_calibration.py`` prints the
  measured false-alarm rate and power; ``tests/stats/test_gate_rule.py`` checks them.

Assumption: the intervals come from :mod:`edgekit.stats.relative_change` (i.i.d. warm
samples within each run).

Paired rule (:func:`judge_paired`): a candidate measured with its baseline in the same run,
in interleaved sessions, is judged from the paired session medians
(:mod:`edgekit.stats.paired`). Run-to-run drift cancels within a pair, so no margin has to
absorb it, and the default ``paired_rule = "significant"`` is: **regressed** iff the
one-sided 95 % lower bound of the change is above 0 *and* the estimate is above the margin
(a slowdown that is both shown and large enough to matter); **improved** symmetrically.
A/A (true change 0) is then flagged at most 5 % of the time, whatever the margin.
``paired_rule = "bound"`` keeps the cross-run rule (lower bound > margin): it also controls
false alarms for true changes up to the margin, at the cost of power with few sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from edgekit.errors import ConfigError
from edgekit.stats.estimate import Estimate, check_level
from edgekit.stats.ratio import Method
from edgekit.stats.relative_change import median_difference_ci, relative_change_from_summary

GateState = Literal["regressed", "ok", "improved", "cannot-judge"]
#: how paired (in-run, interleaved) changes are judged: see the module docstring
PairedRule = Literal["significant", "bound"]
PAIRED_RULES: tuple[str, ...] = ("significant", "bound")


@dataclass(frozen=True)
class RegressionRule:
    """When a relative change counts as a regression (or an improvement).

    Attributes:
        min_relative_margin: the change the gate tolerates (0.05 = 5 %).
        confidence: one-sided confidence of the bound compared with the margin.
    """

    min_relative_margin: float = 0.05
    confidence: float = 0.95
    paired_rule: PairedRule = "significant"

    def __post_init__(self) -> None:
        if self.paired_rule not in PAIRED_RULES:
            raise ConfigError(f"paired rule {self.paired_rule!r} is not valid",
                              hint=f"one of: {', '.join(PAIRED_RULES)}")
        if not 0.0 <= self.min_relative_margin < 1.0:
            raise ConfigError(f"min_relative_margin {self.min_relative_margin!r} is not in [0, 1)",
                              hint="pass a fraction, e.g. 0.05 for 5 %")
        if not 0.5 < self.confidence < 1.0:
            raise ConfigError(f"gate confidence {self.confidence!r} is not in (0.5, 1)",
                              hint="pass a one-sided confidence such as 0.95")

    @property
    def level(self) -> float:
        """The two-sided level whose interval ends are the one-sided bounds."""
        return check_level(round(2.0 * self.confidence - 1.0, 12))

    def describe(self) -> str:
        """The rule in words, for reports."""
        m, c = self.min_relative_margin * 100, self.confidence * 100
        return (f"regressed iff the {c:g} % lower confidence bound of median_new/median_base − 1 "
                f"> +{m:g} %; improved iff the {c:g} % upper bound < −{m:g} %; "
                f"cannot-judge without a finite interval")

    def describe_paired(self) -> str:
        """The paired (in-run baseline) rule in words."""
        m, c = self.min_relative_margin * 100, self.confidence * 100
        if self.paired_rule == "bound":
            return (f"paired sessions: regressed iff the {c:g} % lower bound of the change (t interval on the "
                    f"sessions' log ratios) > +{m:g} %")
        return (f"paired sessions: regressed iff the {c:g} % lower bound of the change (t interval on the "
                f"sessions' log ratios) > 0 and the estimate > +{m:g} %")


@dataclass(frozen=True)
class GateDecision:
    """The verdict on one job: its state, the relative-change interval, and the rule."""

    state: GateState
    change: Estimate
    rule: str
    reason: str

    @property
    def failing(self) -> bool:
        """Whether this verdict fails the gate (only ``regressed`` does)."""
        return self.state == "regressed"

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "change": self.change.to_dict(), "rule": self.rule, "reason": self.reason}


def judge_change(change: Estimate, rule: RegressionRule = RegressionRule()) -> GateDecision:
    """Decide on a relative-change interval computed at ``rule.level`` (pure function)."""
    text = rule.describe()
    if not change.known:
        return GateDecision("cannot-judge", change, text, f"no finite interval ({change.method})")
    m = rule.min_relative_margin
    span = f"[{change.lo * 100:+.2f} %, {change.hi * 100:+.2f} %]"  # type: ignore[operator]
    if change.lo > m:  # type: ignore[operator]
        return GateDecision("regressed", change, text, f"change {span}: lower bound above +{m * 100:g} %")
    if change.hi < -m:  # type: ignore[operator]
        return GateDecision("improved", change, text, f"change {span}: upper bound below −{m * 100:g} %")
    return GateDecision("ok", change, text, f"change {span}: not beyond ±{m * 100:g} %")


def judge_paired(change: Estimate, rule: RegressionRule = RegressionRule()) -> GateDecision:
    """Decide on a paired (in-run, interleaved sessions) change computed at ``rule.level``."""
    text = rule.describe_paired()
    if not change.known or change.value is None:
        return GateDecision("cannot-judge", change, text, f"no finite interval ({change.method})")
    m = rule.min_relative_margin
    lo, hi, v = change.lo, change.hi, change.value
    span = f"{v * 100:+.2f} % [{lo * 100:+.2f} %, {hi * 100:+.2f} %]"  # type: ignore[operator]
    if rule.paired_rule == "bound":
        up, down = lo > m, hi < -m  # type: ignore[operator]
    else:
        up, down = lo > 0 and v > m, hi < 0 and v < -m  # type: ignore[operator]
    if up:
        return GateDecision("regressed", change, text, f"change {span}: slower beyond +{m * 100:g} %")
    if down:
        return GateDecision("improved", change, text, f"change {span}: faster beyond −{m * 100:g} %")
    return GateDecision("ok", change, text, f"change {span}: no change beyond ±{m * 100:g} % shown")


def judge_samples(base_samples: Any, new_samples: Any, rule: RegressionRule = RegressionRule(),
                  method: Method = "auto", seed: int = 0) -> GateDecision:
    """Decide from every warm sample of the baseline and the new run."""
    return judge_change(median_difference_ci(base_samples, new_samples, rule.level, method, seed=seed), rule)


def judge_summaries(base: dict[str, Any], new: dict[str, Any], rule: RegressionRule = RegressionRule()) -> GateDecision:
    """Decide from aggregate statistics only (approximate interval, or cannot-judge)."""
    return judge_change(relative_change_from_summary(base, new, rule.level), rule)


__all__ = ["GateDecision", "GateState", "PAIRED_RULES", "PairedRule", "RegressionRule", "judge_change",
           "judge_paired", "judge_samples", "judge_summaries"]
