"""The regression rule: false alarms on A/A, power on a 10 % shift, states and text."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.stats.estimate import Estimate
from edgekit.stats.gate_rule import RegressionRule, judge_change, judge_samples, judge_summaries
from edgekit.stats.relative_change import summary_of


def _run(rng: np.random.Generator, factor: float, sigma: float, n: int = 1000) -> np.ndarray:
    """A ≈1 ms model's warm samples (µs): lognormal jitter plus 2 % slow outliers."""
    x = 1000.0 * factor * rng.lognormal(0.0, sigma, n)
    return x + np.where(rng.random(n) < 0.02, rng.exponential(500.0, n), 0.0)


def _rates(shift: float, sigma: float, trials: int, seed: int, summaries: bool = False) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    for _ in range(trials):
        base, new = _run(rng, 1.0, sigma), _run(rng, 1.0 + shift, sigma)
        d = judge_summaries(summary_of(base), summary_of(new)) if summaries else judge_samples(base, new)
        counts[d.state] = counts.get(d.state, 0) + 1
    return {k: v / trials for k, v in counts.items()}


@pytest.mark.parametrize("sigma", [0.05, 0.15])
def test_false_alarms_and_power(sigma: float) -> None:
    assert _rates(0.0, sigma, 2000, 1).get("regressed", 0.0) <= 0.05          # A/A
    assert _rates(0.04, sigma, 1000, 2).get("regressed", 0.0) <= 0.05         # drift inside the margin
    assert _rates(0.05, sigma, 1000, 3).get("regressed", 0.0) <= 0.065        # at the margin: ≈ 5 % by design
    assert _rates(0.10, sigma, 1000, 4).get("regressed", 0.0) >= 0.95         # a real 10 % regression
    assert _rates(-0.10, sigma, 500, 5).get("improved", 0.0) >= 0.95


def test_summary_only_gate_keeps_its_error_rates() -> None:
    assert _rates(0.0, 0.1, 500, 6, summaries=True).get("regressed", 0.0) <= 0.05
    assert _rates(0.10, 0.1, 500, 7, summaries=True).get("regressed", 0.0) >= 0.95


def test_states_and_rule_text() -> None:
    rule = RegressionRule()
    assert rule.level == 0.9
    assert judge_change(Estimate(0.12, 0.08, 0.16, 0.9, "x"), rule).state == "regressed"
    assert judge_change(Estimate(0.06, 0.04, 0.08, 0.9, "x"), rule).state == "ok"
    assert judge_change(Estimate(-0.12, -0.16, -0.08, 0.9, "x"), rule).state == "improved"
    unknown = judge_change(Estimate.unknown("no count"), rule)
    assert unknown.state == "cannot-judge" and "no count" in unknown.reason and not unknown.failing
    assert judge_change(Estimate(0.1, float("-inf"), float("inf"), 0.9, "x")).state == "cannot-judge"
    d = judge_samples([1000.0] * 3, [1100.0] * 3)          # too few samples for any interval
    assert d.state == "cannot-judge" and "fewer than 5 samples" in d.reason and not d.failing
    assert "lower confidence bound" in d.rule and "+5 %" in d.rule
    strict = RegressionRule(min_relative_margin=0.02)
    assert judge_change(Estimate(0.04, 0.03, 0.05, 0.9, "x"), strict).failing
    assert judge_change(Estimate(0.04, 0.03, 0.05, 0.9, "x"), rule).to_dict()["state"] == "ok"


def test_bad_rule() -> None:
    with pytest.raises(ConfigError, match="margin"):
        RegressionRule(min_relative_margin=-0.1)
    with pytest.raises(ConfigError, match="confidence"):
        RegressionRule(confidence=0.4)
