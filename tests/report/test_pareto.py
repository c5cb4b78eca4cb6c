"""Exact Pareto frontiers on hand-made point sets."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from edgekit.report.pareto import (Objective, Point, dominates, is_missing, pareto_analysis, pareto_front,
                                   staircase)


def ids(points: list[Point]) -> list[str]:
    return [p.id for p in points]


def test_single_point_is_the_front() -> None:
    assert ids(pareto_front([Point("a", 0.9, 3.0)])) == ["a"]


def test_empty_input() -> None:
    assert pareto_front([]) == []
    res = pareto_analysis([], [Objective("q", lambda p: p, "max")])
    assert (res.front, res.dominated, res.ties, res.missing) == ([], [], [], [])


def test_textbook_set_sorted_by_cost() -> None:
    pts = [Point("a", 0.70, 1.0), Point("b", 0.80, 2.0), Point("c", 0.75, 3.0),  # c dominated by b
           Point("d", 0.90, 5.0), Point("e", 0.85, 6.0), Point("f", 0.60, 0.5)]  # e dominated by d
    assert ids(pareto_front(pts)) == ["f", "a", "b", "d"]


def test_all_dominated_chain_keeps_only_the_best() -> None:
    # each point is better AND cheaper than the next: one survivor
    chain = [Point(f"p{i}", 1.0 - i * 0.1, 1.0 + i) for i in range(6)]
    res = pareto_analysis(chain, [Objective("q", lambda p: p.quality, "max"), Objective("c", lambda p: p.cost, "min")])
    assert ids(res.front) == ["p0"]
    assert {p.id: d.id for p, d in res.dominated} == {f"p{i}": "p0" for i in range(1, 6)}


def test_duplicates_are_all_kept_and_marked_as_ties() -> None:
    pts = [Point("a", 0.8, 2.0), Point("b", 0.8, 2.0), Point("c", 0.7, 1.0), Point("d", 0.8, 2.0),
           Point("e", 0.7, 3.0)]
    res = pareto_analysis(pts, [Objective("q", lambda p: p.quality, "max"), Objective("c", lambda p: p.cost, "min")])
    assert ids(res.front) == ["a", "b", "c", "d"]
    assert [ids(g) for g in res.ties] == [["a", "b", "d"]]
    assert res.tied(pts[1]) and not res.tied(pts[2])
    assert [(p.id, d.id) for p, d in res.dominated] == [("e", "a")]  # the first dominator in input order


def test_duplicate_dominated_points_stay_dominated() -> None:
    pts = [Point("best", 0.9, 1.0), Point("x", 0.5, 2.0), Point("y", 0.5, 2.0)]
    res = pareto_analysis(pts, [Objective("q", lambda p: p.quality, "max"), Objective("c", lambda p: p.cost, "min")])
    assert ids(res.front) == ["best"]
    assert res.ties == []


def test_ties_in_one_coordinate() -> None:
    # same quality, different cost: the costlier is dominated; same cost, different quality: the worse is
    pts = [Point("cheap", 0.8, 1.0), Point("dear", 0.8, 4.0), Point("good", 0.9, 4.0), Point("worse", 0.85, 4.0)]
    assert ids(pareto_front(pts)) == ["cheap", "good"]


def test_collinear_points_are_all_on_the_front() -> None:
    # on a straight line quality = 0.5 + 0.1·cost: none dominates another
    line = [Point(f"l{i}", 0.5 + 0.1 * i, float(i)) for i in range(5)]
    assert ids(pareto_front(line)) == ["l0", "l1", "l2", "l3", "l4"]
    # collinear on a horizontal line: only the cheapest survives
    flat = [Point(f"h{i}", 0.7, float(i)) for i in range(4)]
    assert ids(pareto_front(flat)) == ["h0"]
    # collinear on a vertical line: only the best survives
    vertical = [Point(f"v{i}", 0.1 * i, 2.0) for i in range(4)]
    assert ids(pareto_front(vertical)) == ["v3"]


def test_missing_values_are_excluded_and_listed() -> None:
    pts = [Point("a", 0.9, 1.0), Point("nq", None, 0.1), Point("nan", float("nan"), 0.1), Point("nc", 0.99, None)]
    assert ids(pareto_front(pts)) == ["a"]
    res = pareto_analysis(pts, [Objective("quality", lambda p: p.quality, "max"),
                                Objective("cost", lambda p: p.cost, "min")])
    assert [(p.id, names) for p, names in res.missing] == [("nq", ["quality"]), ("nan", ["quality"]),
                                                           ("nc", ["cost"])]
    assert len(res.front) + len(res.dominated) + len(res.missing) == len(pts)


def test_three_objectives() -> None:
    # quality ↑, latency ↓, size ↓
    items = [("a", 0.9, 2.0, 100), ("b", 0.9, 1.0, 200), ("c", 0.8, 1.0, 50), ("d", 0.8, 2.0, 200),
             ("e", 0.9, 1.0, 200)]
    objs = [Objective("q", lambda t: t[1], "max"), Objective("lat", lambda t: t[2], "min"),
            Objective("size", lambda t: t[3], "min")]
    res = pareto_analysis(items, objs)
    assert [t[0] for t in res.front] == ["a", "b", "c", "e"]
    assert [(t[0], d[0]) for t, d in res.dominated] == [("d", "a")]
    assert [[t[0] for t in g] for g in res.ties] == [["b", "e"]]


def test_infinities_are_values_not_missing() -> None:
    pts = [Point("inf-cost", 1.0, math.inf), Point("a", 0.5, 1.0)]
    assert ids(pareto_front(pts)) == ["a", "inf-cost"]
    assert not is_missing(math.inf) and is_missing(None) and is_missing(float("nan")) and not is_missing(0.0)


def test_dominates_is_strict() -> None:
    assert dominates((1, 1), (1, 0)) and not dominates((1, 1), (1, 1)) and not dominates((2, 0), (1, 1))
    with pytest.raises(ValueError):
        dominates((1,), (1, 2))


def test_bad_objective_sense() -> None:
    with pytest.raises(ValueError, match="sense"):
        Objective("q", lambda p: p, "up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        pareto_analysis([1], [])


def test_matches_brute_force_definition_on_random_sets() -> None:
    rng = random.Random(7)
    for _ in range(60):
        # small integer grids force many duplicates and coordinate ties
        pts = [Point(str(i), rng.randint(0, 5) / 5, float(rng.randint(0, 5))) for i in range(rng.randint(1, 25))]
        expected = {p.id for p in pts if not any(
            q.quality >= p.quality and q.cost <= p.cost and (q.quality > p.quality or q.cost < p.cost) for q in pts)}
        front = pareto_front(pts)
        assert {p.id for p in front} == expected
        assert [p.cost for p in front] == sorted(p.cost for p in front)
        # along the front, cost up ⇒ quality strictly up (except exact duplicates)
        for a, b in itertools.pairwise(front):
            assert (a.quality, a.cost) == (b.quality, b.cost) or (b.quality > a.quality and b.cost > a.cost)


def test_staircase_traces_the_dominated_region() -> None:
    xs, ys = staircase([(3.0, 0.9), (1.0, 0.7), (2.0, 0.8), (2.0, 0.8)])
    assert xs == [1.0, 2.0, 2.0, 3.0, 3.0]
    assert ys == [0.7, 0.7, 0.8, 0.8, 0.9]
    assert staircase([]) == ([], [])
