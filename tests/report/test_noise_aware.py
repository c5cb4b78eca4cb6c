"""Decisions only beyond noise: intervals on every candidate, frontiers without hair-splitting,
tie groups, and a recommendation that says when models cannot be told apart."""

from __future__ import annotations

import dataclasses

import pytest

from edgekit.report.collect import Candidate, QualityScale
from edgekit.report.frontiers import LATENCY, QUALITY
from edgekit.report.pareto import pareto_analysis
from edgekit.report.recommend import describe, recommend


def _c(name: str, q: float, q_ci: tuple[float, float], ms: float, ms_ci: tuple[float, float],
       size: int = 1000) -> Candidate:
    return Candidate(artifact_sha256=name * 8, artifact_name=name, model=name, variant="fp32", size_bytes=size,
                     quality=q, quality_ci_lo=q_ci[0], quality_ci_hi=q_ci[1], device="host", median_ms=ms,
                     median_ci_lo_ms=ms_ci[0], median_ci_hi_ms=ms_ci[1], samples=1000)


def test_a_hair_does_not_split_the_frontier() -> None:
    # the fresh `edgekit run` of the issue: 0.005928 vs 0.005930 ms, overlapping intervals
    a = _c("a", 0.9667, (0.941, 0.981), 0.005928, (0.005921, 0.005935))
    b = _c("b", 0.9667, (0.941, 0.981), 0.005930, (0.005922, 0.005938))
    exact = pareto_analysis([a, b], (QUALITY, LATENCY))
    assert exact.front == [a]                                   # the exact frontier splits the hair
    noisy = pareto_analysis([a, b], (QUALITY, LATENCY), exact=False)
    assert noisy.front == [a, b] and noisy.ties == [[a, b]]


def test_better_beyond_noise_dominates() -> None:
    slow = _c("slow", 0.97, (0.95, 0.98), 2.0, (1.95, 2.05))
    fast = _c("fast", 0.965, (0.95, 0.98), 1.0, (0.98, 1.02))  # quality within noise, latency far better
    res = pareto_analysis([slow, fast], (QUALITY, LATENCY), exact=False)
    assert res.front == [fast] and res.dominated == [(slow, fast)]


def test_recommendation_picks_within_a_tie_group_by_the_stated_rule() -> None:
    # top-1 differing by 3 of 360 test images is not a difference
    big = _c("big", 0.9972, (0.9844, 0.9995), 0.026, (0.025, 0.027), size=400_000)
    small = _c("small", 0.9889, (0.9718, 0.9957), 0.036, (0.035, 0.037), size=110_000)
    worse = _c("worse", 0.90, (0.866, 0.926), 0.010, (0.009, 0.011), size=40_000)
    rec = recommend([big, small, worse], "host")
    assert rec.best is small and rec.ties == [big]
    assert "smaller, then" in rec.rule
    text = describe(rec, QualityScale("top1", 100.0, "%"))
    assert "statistically indistinguishable" in text and "big" in text
    assert recommend([big, small, worse], "host", exact=True).best is big


def test_without_intervals_the_old_rule_holds() -> None:
    a = dataclasses.replace(_c("a", 0.9, (0, 1), 1.0, (0.9, 1.1)), quality_ci_lo=None, quality_ci_hi=None)
    b = dataclasses.replace(_c("b", 0.8, (0, 1), 0.5, (0.4, 0.6)), quality_ci_lo=None, quality_ci_hi=None)
    assert recommend([a, b], "host").best is a


@pytest.mark.parametrize("n,expected", [(360, (0.9844, 0.9995))])
def test_quality_interval_is_wilson(n: int, expected: tuple[float, float]) -> None:
    from edgekit.measurement import QualityRecord
    from edgekit.report.collect import quality_interval

    ci = quality_interval(QualityRecord("x", "fp32", "digits-test", "top1", 359 / 360, n))
    assert ci["quality_ci_lo"] == pytest.approx(expected[0], abs=1e-3)
    assert ci["quality_ci_hi"] == pytest.approx(expected[1], abs=1e-3)


def test_within_noise_does_not_add_up_along_a_chain() -> None:
    # the embedded run: each neighbour is within noise of the next in top-1 (360 test images),
    # but the best is 2.5 points above the fastest — beyond noise
    fastest = _c("w0.1-distil-int8", 0.9694, (0.9461, 0.9828), 0.00851, (0.00850, 0.00852))
    b = _c("w0.1-int8", 0.9833, (0.9641, 0.9923), 0.00854, (0.00853, 0.00855))
    c = _c("w0.25-int8", 0.9917, (0.9757, 0.9972), 0.0105, (0.0104, 0.0106))
    best = _c("w0.5-fp32", 0.9944, (0.9800, 0.9985), 0.073, (0.072, 0.074))
    res = pareto_analysis([fastest, b, c, best], (QUALITY, LATENCY), exact=False)
    assert res.front == [fastest, c]                  # a real quality step, not a chain collapse
    assert {x.model for x, _ in res.dominated} == {"w0.1-int8", "w0.5-fp32"}


def test_a_faster_hair_does_not_keep_a_worse_model_on_the_front() -> None:
    a = _c("a", 0.90, (0.89, 0.91), 0.005928, (0.005921, 0.005935))       # a hair faster, worse beyond noise
    b = _c("b", 0.97, (0.96, 0.98), 0.005930, (0.005922, 0.005938))
    res = pareto_analysis([a, b], (QUALITY, LATENCY), exact=False)
    assert res.front == [b] and res.dominated == [(a, b)]
    assert pareto_analysis([a, b], (QUALITY, LATENCY)).front == [a, b]    # the exact frontier keeps the hair
