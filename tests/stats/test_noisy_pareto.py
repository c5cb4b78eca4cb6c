"""Noise-aware frontiers and tie groups on hand-made sets."""

from __future__ import annotations

import math

import pytest

from edgekit.errors import ConfigError
from edgekit.stats.estimate import Estimate
from edgekit.stats.noisy_pareto import (AxisValue, NoisyPoint, exact_pareto, noisy_dominates, noisy_pareto,
                                        tie_groups)


def pt(pid: str, lat: tuple[float, float, float], top1: tuple[float, float, float], size: float) -> NoisyPoint:
    return NoisyPoint(pid, {"latency_ms": AxisValue(*lat, "min"), "top1": AxisValue(*top1, "max"),
                            "size": AxisValue.exact(size, "min")})


def ids(points) -> list[str]:
    return [p.id for p in points]


def test_hair_splitting_medians_are_one_tie_group() -> None:
    a = pt("fp16", (0.005928, 0.005901, 0.005960), (0.91, 0.90, 0.92), 1000)
    b = pt("fp32", (0.005930, 0.005905, 0.005957), (0.91, 0.90, 0.92), 1000)
    assert ids(exact_pareto([a, b])) == ["fp16"]                      # exact: 0.005928 < 0.005930 wins
    res = noisy_pareto([a, b])
    assert ids(res.front) == ["fp16", "fp32"] and res.dominated == []
    assert not noisy_dominates(a, b) and not noisy_dominates(b, a)
    assert [ids(g) for g in res.ties] == [["fp16", "fp32"]]


def test_dominance_needs_one_axis_beyond_noise_and_none_worse() -> None:
    int8 = pt("int8", (2.0, 1.9, 2.1), (0.90, 0.89, 0.91), 300)
    fp32 = pt("fp32", (5.0, 4.8, 5.2), (0.91, 0.90, 0.92), 1200)      # quality better only within noise
    fp16 = pt("fp16", (4.9, 4.7, 5.1), (0.91, 0.90, 0.92), 600)
    slow = pt("bad", (9.0, 8.5, 9.5), (0.70, 0.68, 0.72), 1200)       # worse beyond noise everywhere
    sharp = pt("sharp", (6.0, 5.9, 6.1), (0.99, 0.985, 0.995), 1500)  # best quality beyond noise
    res = noisy_pareto([int8, fp32, fp16, slow, sharp])
    assert ids(res.front) == ["int8", "sharp"]
    dominated = {p.id: d.id for p, d in res.dominated}
    assert dominated == {"fp32": "int8", "fp16": "int8", "bad": "int8"}
    # the exact frontier keeps fp32 and fp16: their 0.01 quality lead is inside the noise
    assert ids(exact_pareto([int8, fp32, fp16, slow, sharp])) == ["int8", "fp16", "sharp"]
    assert res.ties == []


def test_tie_groups_are_connected_components() -> None:
    # a~b and b~c overlap on every axis, a and c do not: one group by connection
    a = pt("a", (1.0, 0.9, 1.1), (0.8, 0.79, 0.81), 100)
    b = pt("b", (1.15, 1.05, 1.25), (0.8, 0.79, 0.81), 100)
    c = pt("c", (1.3, 1.2, 1.4), (0.8, 0.79, 0.81), 100)
    d = pt("d", (3.0, 2.9, 3.1), (0.95, 0.94, 0.96), 100)
    assert [ids(g) for g in tie_groups([a, b, c, d])] == [["a", "b", "c"]]
    assert [ids(g) for g in tie_groups([a, b, c, d], include_singletons=True)] == [["a", "b", "c"], ["d"]]
    # exact sizes that differ separate otherwise overlapping points
    e = pt("e", (1.0, 0.9, 1.1), (0.8, 0.79, 0.81), 200)
    assert tie_groups([a, e]) == []
    assert ids(noisy_pareto([a, e]).front) == ["a"]


def test_unknown_interval_ties_with_everything_and_missing_is_set_apart() -> None:
    known = pt("known", (1.0, 0.9, 1.1), (0.8, 0.79, 0.81), 100)
    vague = NoisyPoint("vague", {"latency_ms": AxisValue.from_estimate(Estimate.unknown("2 samples", 5.0), "min"),
                                 "top1": AxisValue(0.8, 0.79, 0.81, "max"), "size": AxisValue.exact(100, "min")})
    absent = NoisyPoint("absent", {"latency_ms": AxisValue(None, None, None, "min"),
                                   "top1": AxisValue(0.9, 0.89, 0.91, "max"), "size": AxisValue.exact(50, "min")})
    res = noisy_pareto([known, vague, absent])
    assert ids(res.front) == ["known", "vague"]
    assert [ids(g) for g in res.ties] == [["known", "vague"]]
    assert [(p.id, axes) for p, axes in res.missing] == [("absent", ["latency_ms"])]
    assert math.isinf(vague.axes["latency_ms"].hi)


def test_exact_intervals_reduce_to_the_exact_frontier() -> None:
    pts = [NoisyPoint(f"p{i}", {"cost": AxisValue.exact(c, "min"), "q": AxisValue.exact(q, "max")})
           for i, (c, q) in enumerate([(1, 0.5), (2, 0.7), (2, 0.6), (3, 0.7), (4, 0.9), (4, 0.9)])]
    assert ids(noisy_pareto(pts).front) == ids(exact_pareto(pts)) == ["p0", "p1", "p4", "p5"]
    assert [ids(g) for g in noisy_pareto(pts).ties] == [["p4", "p5"]]


def test_bad_points() -> None:
    with pytest.raises(ConfigError, match="direction"):
        AxisValue(1.0, 0.5, 1.5, "up")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="does not contain"):
        AxisValue(2.0, 0.5, 1.5, "min")
    a = NoisyPoint("a", {"x": AxisValue.exact(1.0, "min")})
    with pytest.raises(ConfigError, match="axes"):
        noisy_pareto([a, NoisyPoint("b", {"y": AxisValue.exact(1.0, "min")})])
    with pytest.raises(ConfigError, match="is .max., others .min."):
        noisy_pareto([a, NoisyPoint("b", {"x": AxisValue.exact(1.0, "max")})])
