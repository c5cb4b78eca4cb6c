"""Recommendation under constraints, on hand-made candidates."""

from __future__ import annotations

import math

import pytest

from edgekit.errors import ConfigError
from edgekit.report.collect import Candidate, quality_scale
from edgekit.report.recommend import Constraints, describe, rank_key, recommend, violations

PCT = quality_scale("top1", [0.5])


def cand(name: str, quality: float | None, ms: float | None, kb: float, device: str | None = "phone",
         variant: str = "int8", flags: tuple[str, ...] = ()) -> Candidate:
    return Candidate(artifact_sha256=f"{name}-{variant}", artifact_name=f"{name}_{variant}", model=name,
                     variant=variant, size_bytes=int(kb * 1024), quality=quality, device=device, median_ms=ms,
                     p10_ms=None if ms is None else ms * 0.9, p90_ms=None if ms is None else ms * 1.1, flags=flags)


POOL = [
    cand("big", 0.92, 6.0, 5000),
    cand("mid", 0.88, 2.5, 1300),
    cand("mid-twin", 0.88, 2.0, 1400),     # same quality as mid, faster → wins the tie
    cand("small", 0.80, 1.0, 100),
    cand("tiny", 0.70, 0.5, 30),
    cand("other-device", 0.99, 0.1, 1, device="board"),
]


def labels(cs: list[Candidate]) -> list[str]:
    return [c.model for c in cs]


def test_no_constraints_picks_the_highest_quality_on_that_device() -> None:
    rec = recommend(POOL, "phone")
    assert rec.best is not None and rec.best.model == "big"
    assert rec.considered == 5 and rec.closest == []
    assert labels(rec.qualifying) == ["big", "mid-twin", "mid", "small", "tiny"]


def test_quality_tie_broken_by_latency_then_size() -> None:
    rec = recommend(POOL, "phone", max_latency_ms=3.0)
    assert rec.best is not None and rec.best.model == "mid-twin"
    same = [cand("s1", 0.9, 1.0, 200), cand("s0", 0.9, 1.0, 100), cand("s2", 0.9, 1.0, 100, variant="fp16")]
    assert labels(recommend(same, "phone").qualifying) == ["s0", "s2", "s1"]  # size, then label


def test_every_constraint_filters() -> None:
    rec = recommend(POOL, "phone", max_latency_ms=3.0, max_size_kb=1350, min_quality=0.75)
    assert labels(rec.qualifying) == ["mid", "small"]
    assert rec.best is not None and rec.best.model == "mid"
    assert rec.constraints == Constraints(3.0, 1350, 0.75)


def test_boundaries_are_inclusive() -> None:
    rec = recommend(POOL, "phone", max_latency_ms=2.5, max_size_kb=1300, min_quality=0.88)
    assert rec.best is not None and rec.best.model == "mid"


def test_nothing_qualifies_lists_the_closest_with_what_they_break() -> None:
    rec = recommend(POOL, "phone", max_latency_ms=0.8, min_quality=0.85)
    assert rec.best is None and rec.qualifying == []
    # violations: tiny 0.15/0.85=0.176 (quality); small 0.25 (lat) + 0.0588 (q) = 0.309;
    # mid-twin (2.0-0.8)/0.8 = 1.5; mid 2.125; big 6.5
    assert labels([n.candidate for n in rec.closest]) == ["tiny", "small", "mid-twin"]
    assert rec.closest[0].broken == ["quality 0.7 < 0.85"]
    assert rec.closest[1].broken == ["latency 1 ms > 0.8 ms", "quality 0.8 < 0.85"]
    assert rec.closest[0].violation == pytest.approx(0.15 / 0.85)
    assert rec.closest[1].violation == pytest.approx(0.25 + 0.05 / 0.85)
    # the texts show quality in the report's unit when a scale is given
    rec = recommend(POOL, "phone", max_latency_ms=0.8, min_quality=0.85, scale=PCT)
    assert rec.closest[1].broken == ["latency 1 ms > 0.8 ms", "top1 80.00% < 85.00%"]
    assert "nothing meets the constraints; closest: tiny · int8 (top1 70.00% < 85.00%)" in describe(rec, PCT)


def test_size_violation_text_and_amount() -> None:
    broken, total = violations(cand("x", 0.9, 1.0, 300), Constraints(max_size_kb=200))
    assert broken == ["size 300 KB > 200 KB"]
    assert total == pytest.approx(0.5)


def test_missing_values_cannot_qualify_for_a_constraint_on_them() -> None:
    pool = [cand("unmeasured", 0.95, None, 10), cand("unevaluated", None, 1.0, 10), cand("ok", 0.5, 2.0, 10)]
    rec = recommend(pool, "phone", max_latency_ms=5.0)
    assert labels(rec.qualifying) == ["ok", "unevaluated"]   # missing quality ranks last
    rec = recommend(pool, "phone", max_latency_ms=5.0, min_quality=0.9)
    assert rec.best is None
    broken = {n.candidate.model: n.broken for n in rec.closest}
    assert broken["unmeasured"] == ["latency not measured"]
    assert broken["unevaluated"] == ["quality not evaluated"]
    assert [n.candidate.model for n in rec.closest][0] == "ok"  # finite violation before infinite ones
    assert math.isinf(rec.closest[-1].violation)


def test_device_none_is_the_size_only_view() -> None:
    models = [cand("a", 0.9, None, 500, device=None), cand("b", 0.85, None, 100, device=None)]
    rec = recommend(models, None, max_size_kb=200)
    assert rec.best is not None and rec.best.model == "b"
    assert describe(rec, PCT).startswith("any device (size × quality): b · int8 — top1 85.00%, 100 KB")


def test_flags_are_reported_with_the_answer() -> None:
    rec = recommend([cand("noisy", 0.9, 1.0, 10, flags=("noisy",))], "phone")
    assert rec.best is not None and "flagged: noisy" in describe(rec, PCT)


def test_no_candidates_for_the_device() -> None:
    rec = recommend(POOL, "nowhere")
    assert rec.best is None and rec.considered == 0 and describe(rec) == "nowhere: no candidates"


@pytest.mark.parametrize("kw", [{"max_latency_ms": 0}, {"max_latency_ms": -1.0}, {"max_size_kb": float("inf")},
                                {"min_quality": float("nan")}])
def test_bad_constraints_are_config_errors(kw: dict) -> None:
    with pytest.raises(ConfigError) as err:
        recommend(POOL, "phone", **kw)
    assert err.value.hint or "finite" in str(err.value)


def test_rank_key_orders_missing_quality_last() -> None:
    assert rank_key(cand("a", None, 0.1, 1)) > rank_key(cand("b", 0.1, 9.0, 999))
