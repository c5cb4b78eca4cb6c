"""The paper's two strategies, stated from measured points."""

from __future__ import annotations

import pytest

from edgekit.pipeline.strategies import Point, strategies


def _points() -> list[Point]:
    # the paper's own figures (Tables 5/6; latency on the Oppo A5 and the Galaxy S10)
    return [
        Point("cnn-w1-baseline", 1.0, "baseline", "fp32", 5_377_372, 0.8442, {"oppo": 24.0, "s10": 2.68}),
        Point("cnn-w0.25-baseline", 0.25, "baseline", "fp32", 401_910, 0.806, {"oppo": 8.15, "s10": 0.93}),
        Point("cnn-w0.25-distillation", 0.25, "distillation", "int8", 113_664, 0.8418, {"oppo": 4.52, "s10": 0.48}),
        Point("cnn-w0.5-distillation", 0.5, "distillation", "int8", 367_933, 0.8786, {"oppo": 6.32, "s10": 0.58}),
        Point("cnn-w0.5-baseline", 0.5, "baseline", "fp32", 1_407_088, 0.8304, {"s10": 1.33}),
    ]


def test_shrink_and_improve_and_grow_improve_shrink_in_numbers() -> None:
    found, missing = strategies(_points())
    assert missing == []
    sai, gis = found
    assert sai.name == "Shrink-and-Improve"
    assert (sai.start.width, sai.start.recipe, sai.start.variant) == (1.0, "baseline", "fp32")
    assert (sai.end.width, sai.end.recipe, sai.end.variant) == (0.25, "distillation", "int8")
    assert sai.size_ratio == pytest.approx(5_377_372 / 113_664)          # 47.3× in the paper
    assert sai.speedups["oppo"] == pytest.approx(24.0 / 4.52)             # 5.31×
    assert sai.quality_delta_pp == pytest.approx(-0.24)
    assert "47.31× smaller" in sai.text and "oppo 5.31× faster" in sai.text and "Δ -0.24 pp" in sai.text
    assert gis.name == "Grow-Improve-Shrink"
    assert (gis.start.width, gis.end.width) == (0.25, 0.5)
    assert gis.speedups["s10"] == pytest.approx(0.93 / 0.58)
    assert gis.quality_delta_pp == pytest.approx(7.26)
    assert "Δ +7.26 pp" in gis.text
    assert gis.to_dict()["latency_ms"]["s10"] == [0.93, 0.58]


def test_missing_points_are_explained() -> None:
    pts = [p for p in _points() if p.recipe == "baseline"]
    found, missing = strategies(pts)
    assert found == []
    assert len(missing) == 2 and "Shrink-and-Improve needs" in missing[0]
    assert strategies(pts[:1]) == ([], ["the strategies need at least two widths of the family"])


def test_slower_and_larger_are_said_plainly() -> None:
    a = Point("a", 0.1, "baseline", "fp32", 1000, 0.9, {"host": 1.0})
    b = Point("b", 0.5, "augmentation", "int8", 2000, None, {"host": 2.0})
    (_, gis), _ = strategies([a, b, Point("c", 0.5, "baseline", "fp32", 4000, 0.9, {}),
                               Point("d", 0.1, "augmentation", "int8", 300, 0.8, {})])
    assert "2.00× larger" in gis.text and "host 2.00× slower" in gis.text and "not evaluated" in gis.text


def test_a_ratio_within_rounding_is_not_called_faster_or_slower() -> None:
    from edgekit.pipeline.strategies import _ratio

    assert _ratio(0.998, "faster", "slower") == "about as fast (0.998×)"
    assert _ratio(1.004, "smaller", "larger") == "about the same size (1.004×)"
    assert _ratio(1.02, "faster", "slower") == "1.02× faster"
    assert _ratio(0.5, "faster", "slower") == "2.00× slower"
