"""The paper's CNN family: parameter counts beside the paper's, shapes, ops, bad input."""

from __future__ import annotations

import pytest

from edgekit.errors import ConfigError
from edgekit.recipes.family import (PAPER_PARAMS_K, PAPER_WIDTHS, family_param_table, model_name,
                                    param_count, paper_cnn, paper_params_k, width_tag)

#: our architecture's exact counts on 32×32×3 inputs, 10 classes (Keras count_params)
OURS = {0.05: 14_668, 0.1: 26_161, 0.25: 99_018, 0.5: 353_066, 0.75: 772_490, 1.0: 1_357_290}
#: stated tolerance: every width within 1.5 % of the paper's Table 5
TOLERANCE = 0.015


def test_param_table_is_close_to_the_paper_at_every_width() -> None:
    rows = family_param_table()
    assert [r.width for r in rows] == list(PAPER_WIDTHS)
    for r in rows:
        assert r.ours == OURS[r.width]
        assert r.paper == pytest.approx(PAPER_PARAMS_K[r.width] * 1000)
        assert abs(r.ratio - 1) < TOLERANCE, (r.width, r.ours, r.paper)
        d = r.to_dict()
        assert d["ours_k"] == round(r.ours / 1000, 2) and d["paper_k"] == round(r.paper / 1000, 2)


def test_paper_counts_come_from_the_shipped_table() -> None:
    assert paper_params_k() == pytest.approx(PAPER_PARAMS_K)


@pytest.mark.parametrize("width", [0.05, 0.25, 1.0])
def test_keras_counts_match_the_formula(width: float) -> None:
    model = paper_cnn(width, (32, 32, 3), 10, seed=0)
    assert model.count_params() == param_count(width) == OURS[width]
    assert model.name == "paper-cnn"
    assert model.output_shape == (None, 10)


def test_width_scales_every_convolution_except_the_first_two() -> None:
    import keras

    small = paper_cnn(0.25, (32, 32, 3), 10)
    large = paper_cnn(1.0, (32, 32, 3), 10)
    convs = lambda m: [l.filters for l in m.layers if isinstance(l, keras.layers.Conv2D)]  # noqa: E731
    assert convs(small)[:2] == convs(large)[:2] == [32, 32]
    assert convs(large)[2:] == [64, 64, 128, 128, 128, 256, 256]
    assert convs(small)[2:] == [16, 16, 32, 32, 32, 64, 64]


def test_only_quantization_friendly_layers() -> None:
    model = paper_cnn(0.5, (32, 32, 3), 10)
    kinds = {type(l).__name__ for l in model.layers}
    assert kinds <= {"InputLayer", "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D",
                     "GlobalAveragePooling2D", "Dense", "Softmax"}
    assert model.layers[-1].name == "probabilities"


@pytest.mark.parametrize("shape, pools", [((8, 8, 1), 2), ((16, 16, 1), 3), ((32, 32, 3), 3), ((9, 12, 3), 2)])
def test_pooling_adapts_to_small_inputs(shape: tuple[int, int, int], pools: int) -> None:
    import keras

    model = paper_cnn(0.1, shape, 7)
    n = sum(isinstance(l, keras.layers.MaxPooling2D) for l in model.layers)
    assert n == pools
    assert model.output_shape == (None, 7)
    assert model.count_params() == param_count(0.1, shape, 7)


@pytest.mark.parametrize("width, shape, classes, fragment", [
    (0.0, (32, 32, 3), 10, "width multiplier 0.0"),
    (-1, (32, 32, 3), 10, "width multiplier -1"),
    (float("nan"), (32, 32, 3), 10, "width multiplier nan"),
    (0.5, (7, 32, 3), 10, "input shape (7, 32, 3)"),
    (0.5, (32, 32), 10, "input shape (32, 32)"),
    (0.5, (32, 32, 3), 1, "num_classes 1"),
])
def test_bad_arguments_are_config_errors(width: float, shape: tuple[int, ...], classes: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        paper_cnn(width, shape, classes)
    assert fragment in err.value.message
    assert err.value.hint


def test_names() -> None:
    assert width_tag(0.25) == "w0.25"
    assert width_tag(1.0) == "w1"
    assert width_tag(0.05) == "w0.05"
    assert model_name(0.5, "distillation") == "cnn-w0.5-distillation"
