"""The paired-session change and the paired gate rule, against known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.stats.gate_rule import RegressionRule, judge_paired
from edgekit.stats.paired import interleaved_pairs, paired_change, paired_ratio, session_pairs, t_cdf, t_quantile
from edgekit.stats.proportion import wilson_interval


@pytest.mark.parametrize("p,df,table", [(0.975, 4, 2.776), (0.95, 4, 2.132), (0.975, 1, 12.706),
                                        (0.95, 9, 1.833), (0.975, 30, 2.042), (0.995, 2, 9.925)])
def test_t_quantile_matches_the_printed_table(p, df, table):
    assert t_quantile(p, df) == pytest.approx(table, abs=5e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-table, abs=5e-4)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


def test_t_distribution_agrees_with_scipy_where_installed():
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 41):
        for p in (0.55, 0.9, 0.95, 0.975, 0.999):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-8)
        for t in (-4.0, -1.0, 0.0, 0.3, 2.5):
            assert t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-10)


def drifting_sessions(rng: np.random.Generator, n: int, ratio: float, drift: float, noise: float,
                      spike: float = 0.0) -> tuple[list[float], list[float]]:
    """Session medians of baseline A and candidate B = ratio·A, in n interleaved pairs.

    Each pair shares a machine state (a random walk plus occasional jumps of ±``drift``);
    each session adds its own log-normal noise ``noise`` (the median's sampling error).
    """
    level = np.cumsum(rng.normal(0.0, drift, n)) + rng.choice([0.0, drift * 3], n, p=[0.8, 0.2])
    a = 1000.0 * np.exp(level + rng.normal(0.0, noise, n))
    b = 1000.0 * ratio * np.exp(level + rng.normal(0.0, noise, n))
    if spike:
        b[rng.integers(n)] *= 1.0 + spike
    return b.tolist(), a.tolist()


@pytest.mark.parametrize("n,level", [(5, 0.90), (5, 0.95), (8, 0.90), (3, 0.95)])
def test_paired_interval_covers_the_true_change_under_drift(n, level):
    rng = np.random.default_rng(n * 100 + int(level * 100))
    trials, ratio = 3000, 1.10
    covered = 0
    for _ in range(trials):
        b, a = drifting_sessions(rng, n, ratio, drift=0.12, noise=0.025)
        est = paired_change(b, a, level)
        covered += est.lo <= ratio - 1 <= est.hi
    lo, hi = wilson_interval(covered, trials, 0.999)
    assert lo <= level <= hi, (covered / trials, level)


def test_unpaired_comparison_of_the_same_sessions_is_fooled_by_drift():
    """What pairing buys: the runs' pooled medians, compared across runs, miss the drift."""
    rng = np.random.default_rng(7)
    false_alarms_paired = false_alarms_runs = 0
    for _ in range(500):
        # two runs an hour apart: the baseline run on a slow machine state, the new one on a fast one
        b, _ = drifting_sessions(rng, 5, 1.0, drift=0.0, noise=0.02)
        _, a = drifting_sessions(rng, 5, 1.0, drift=0.0, noise=0.02)
        shift = math.exp(rng.normal(0.0, 0.08))       # run-to-run drift
        false_alarms_runs += np.median(b) * shift / np.median(a) - 1 > 0.05
        b2, a2 = drifting_sessions(rng, 5, 1.0, drift=0.08, noise=0.02)
        false_alarms_paired += judge_paired(paired_change(b2, a2, 0.90)).state == "regressed"
    assert false_alarms_paired / 500 <= 0.05
    assert false_alarms_runs / 500 > 0.15


@pytest.mark.parametrize("rule,max_fa,min_power", [("significant", 0.05, 0.95), ("bound", 0.05, 0.0)])
def test_paired_rule_false_alarms_and_power_on_simulated_sessions(rule, max_fa, min_power):
    """A/A is flagged at most ≈5 %; a +10 % change with this host's session noise (≈3 % per
    session median, so ≈4 % per pair) is flagged ≥ 95 % of the time by the default rule."""
    r = RegressionRule(paired_rule=rule)
    rng = np.random.default_rng(11)
    trials = 2000
    fa = sum(judge_paired(paired_change(*drifting_sessions(rng, 5, 1.0, 0.1, 0.03), r.level), r).state
             == "regressed" for _ in range(trials))
    hits = sum(judge_paired(paired_change(*drifting_sessions(rng, 5, 1.10, 0.1, 0.03), r.level), r).state
               == "regressed" for _ in range(trials))
    assert wilson_interval(fa, trials, 0.999)[0] <= max_fa
    assert hits / trials >= min_power
    if rule == "bound":  # stricter: fewer detections than the default rule on the same noise
        default = RegressionRule()
        hits_default = sum(judge_paired(paired_change(*drifting_sessions(rng, 5, 1.10, 0.1, 0.03), 0.90),
                                        default).state == "regressed" for _ in range(trials))
        assert hits < hits_default


def test_one_slow_session_widens_the_interval_instead_of_alarming():
    rng = np.random.default_rng(3)
    alarms = 0
    for _ in range(300):
        b, a = drifting_sessions(rng, 5, 1.0, drift=0.05, noise=0.02, spike=0.40)
        alarms += judge_paired(paired_change(b, a, 0.90)).state == "regressed"
    assert alarms / 300 <= 0.05


def test_paired_change_values_and_refusals():
    est = paired_change([1100.0, 1210.0], [1000.0, 1100.0], 0.90)
    assert est.value == pytest.approx(0.10) and est.lo == pytest.approx(0.10) and est.hi == pytest.approx(0.10)
    assert est.method == "paired t, 2 interleaved sessions"
    one = paired_change([1100.0], [1000.0])
    assert not one.known and one.value == pytest.approx(0.10) and "at least 2" in one.method
    assert judge_paired(one).state == "cannot-judge"
    with pytest.raises(ConfigError, match="differ in number"):
        paired_change([1.0, 2.0], [1.0])
    with pytest.raises(ConfigError, match="not a positive number"):
        paired_change([1.0, -2.0], [1.0, 1.0])
    with pytest.raises(ConfigError, match="paired rule"):
        RegressionRule(paired_rule="loose")  # type: ignore[arg-type]


def test_judge_paired_states_and_rules():
    up = paired_change([1090.0, 1110.0, 1100.0], [1000.0, 1000.0, 1000.0], 0.90)   # ≈ +10 %, tight
    small = paired_change([1030.0, 1031.0, 1029.0], [1000.0, 1000.0, 1000.0], 0.90)  # +3 %: shown, too small
    assert judge_paired(up).state == "regressed"
    assert judge_paired(small).state == "ok"
    assert judge_paired(paired_change([910.0, 890.0, 900.0], [1000.0] * 3, 0.90)).state == "improved"
    wide = paired_change([1250.0, 980.0, 1100.0], [1000.0] * 3, 0.90)               # +10 % but not shown
    assert wide.lo < 0 and judge_paired(wide).state == "ok"
    mid = paired_change([1090.0, 1050.0, 1070.0], [1000.0] * 3, 0.90)               # lower bound in (0, 5 %)
    assert judge_paired(mid).state == "regressed"
    assert judge_paired(mid, RegressionRule(paired_rule="bound")).state == "ok"
    assert "> 0 and the estimate > +5 %" in judge_paired(mid).rule


def test_session_pairs_match_on_the_pair_number():
    cand = [{"median_us": 11.0, "pair": 1}, {"median_us": 10.0, "pair": 0}, {"median_us": None, "pair": 2}]
    base = [{"median_us": 1.0, "pair": 0}, {"median_us": 2.0, "pair": 1}, {"median_us": 3.0, "pair": 2}]
    assert session_pairs(cand, base) == ([11.0, 10.0], [2.0, 1.0])
    assert session_pairs([{"median_us": 5.0}], [{"median_us": 4.0}, {"median_us": 9.0}]) == ([5.0], [4.0])


def _session(median, start, pair=None):
    s = {"median_us": median, "started_at": start, "finished_at": start + 1.0}
    return s if pair is None else {**s, "pair": pair}


def test_interleaved_pairs_needs_rounds_that_do_not_overlap():
    a = [_session(10.0, 0.0), _session(11.0, 4.0), _session(12.0, 8.0)]
    b = [_session(5.0, 2.0), _session(6.0, 6.0), _session(7.0, 10.0)]
    assert interleaved_pairs(a, b) == ([10.0, 11.0, 12.0], [5.0, 6.0, 7.0])
    abba = [_session(5.0, 2.0, 0), _session(6.0, 4.0, 1), _session(7.0, 10.0, 2)]      # B A A B B A
    a2 = [_session(10.0, 0.0, 0), _session(11.0, 6.0, 1), _session(12.0, 8.0, 2)]
    assert interleaved_pairs(a2, abba) == ([10.0, 11.0, 12.0], [5.0, 6.0, 7.0])
    back_to_back = [_session(5.0, 20.0), _session(6.0, 22.0), _session(7.0, 24.0)]
    assert interleaved_pairs(a, back_to_back) is None
    assert interleaved_pairs(a[:2], b) is None and interleaved_pairs(a[:1], b[:1]) is None
    assert interleaved_pairs([{**a[0], "started_at": None}, *a[1:]], b) is None


def test_paired_ratio_is_the_paired_change_plus_one():
    r = paired_ratio([2000.0, 2400.0, 1700.0], [1000.0, 1190.0, 860.0])
    c = paired_change([2000.0, 2400.0, 1700.0], [1000.0, 1190.0, 860.0], 0.95)
    assert (r.value, r.lo, r.hi) == pytest.approx((c.value + 1, c.lo + 1, c.hi + 1))
    assert r.lo < 2.0 < r.hi and r.level == 0.95
    assert not paired_ratio([2.0], [1.0]).known
