"""The family's ``channel_multiple``: MobileNet's make_divisible on every conv/dense width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.pipeline.pipeline_file import load_pipeline
from edgekit.recipes.family import (PAPER_WIDTHS, channels, family_label, flat_channels, make_divisible,
                                    model_name, param_count, paper_cnn)


@pytest.mark.parametrize("value, multiple, want", [
    (3.2, 8, 8),        # never below the multiple
    (12.0, 8, 16),      # 12 → nearest multiple is 8 or 16 (ties up): 16
    (11.0, 8, 16),      # 8 would lose 27 % (> 10 %): one multiple up
    (19.0, 8, 24),      # 16 would lose 16 %: 24
    (20.0, 8, 24),      # round half up: 24
    (35.0, 8, 32),      # 32 loses 8.6 % (< 10 %): kept
    (25.6, 4, 24),      # 24 loses 6 %: kept
    (6.4, 1, 6),
    (32.0, 16, 32),
])
def test_make_divisible(value: float, multiple: int, want: int) -> None:
    got = make_divisible(value, multiple)
    assert got == want and got % multiple == 0 and got >= multiple and got >= 0.9 * value


def test_multiple_one_is_todays_family() -> None:
    for w in PAPER_WIDTHS:
        c = channels(w)
        assert c["stem"] == [32, 32]
        assert c["blocks"] == [[max(1, round(f * w)) for f in b] for b in ((64, 64), (128, 128, 128), (256, 256))]
        assert c["dense"] == [max(1, round(128 * w))]
    assert model_name(0.25, "baseline", 1) == model_name(0.25, "baseline") == "cnn-w0.25-baseline"
    assert family_label(1) == "paper-cnn"


def test_every_width_is_a_multiple() -> None:
    assert flat_channels(0.05, 8) == [32, 32, 8, 8, 8, 8, 8, 16, 16, 8]
    assert flat_channels(0.1, 8) == [32, 32, 8, 8, 16, 16, 16, 24, 24, 16]
    assert flat_channels(0.1) == [32, 32, 6, 6, 13, 13, 13, 26, 26, 13]
    assert flat_channels(0.75, 16) == [32, 32, 48, 48, 96, 96, 96, 192, 192, 96]
    assert flat_channels(0.1, 3) == [33, 33, 6, 6, 12, 12, 12, 27, 27, 12]    # the stem is rounded too
    for w in PAPER_WIDTHS:
        for m in (4, 8, 16):
            raw = flat_channels(w)
            got = flat_channels(w, m)
            assert all(c % m == 0 and c >= m for c in got)
            assert all(c >= 0.9 * r - 1 for c, r in zip(got, raw)), (w, m, got, raw)  # never 10 % below
    assert model_name(0.1, "baseline", 8) == "cnn-w0.1-m8-baseline"
    assert family_label(8) == "paper-cnn-m8"


@pytest.mark.parametrize("width, multiple", [(0.1, 8), (0.25, 4), (0.05, 16)])
def test_keras_model_has_the_rounded_widths(width: float, multiple: int) -> None:
    import keras

    model = paper_cnn(width, (8, 8, 1), 10, seed=0, channel_multiple=multiple)
    convs = [l.filters for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    dense = [l.units for l in model.layers if isinstance(l, keras.layers.Dense)]
    want = flat_channels(width, multiple)
    assert convs == want[:-1] and dense == [want[-1], 10]
    assert model.count_params() == param_count(width, (8, 8, 1), 10, channel_multiple=multiple)


def test_converted_model_has_the_rounded_channels(tmp_path: Path) -> None:
    from edgekit.convert.api import convert
    from edgekit.tflite.kernels import detect_kernels

    import numpy as np

    model = paper_cnn(0.1, (8, 8, 1), 10, seed=0, channel_multiple=8)
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 1)).astype("float32")
    convert(model, tmp_path, variants="int8", calibration=x, samples=8, use_cache=False, name="m8")
    kernels = detect_kernels(tmp_path / "m8_int8.tflite")
    assert [k.cout for k in kernels if k.type == "conv"] == [32, 32, 8, 8, 16, 16, 16, 24, 24]
    assert [k.cout for k in kernels if k.type == "fc"] == [16, 10]
    assert all(k.dtype == "int8" for k in kernels if k.type in ("conv", "fc"))


@pytest.mark.parametrize("multiple", [0, -8, 2.5, True, "8"])
def test_bad_multiple_is_a_config_error(multiple: object) -> None:
    with pytest.raises(ConfigError, match="channel multiple"):
        paper_cnn(0.5, (8, 8, 1), 10, channel_multiple=multiple)  # type: ignore[arg-type]


def test_pipeline_key(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("[family]\nwidths = [0.25]\nchannel_multiple = 8\n", encoding="utf-8")
    assert load_pipeline(f).family.channel_multiple == 8
    assert load_pipeline(None).family.channel_multiple == 1
    for body, match in (("channel_multiple = 0", "at least|≥ 1"), ("channel_multiple = 2.5", "whole number"),
                        ('channel_multiple = "8"', "whole number"),
                        ('models = ["m.keras"]\nchannel_multiple = 8', "applies to the paper's family")):
        f.write_text(f"[family]\n{body}\n", encoding="utf-8")
        (tmp_path / "m.keras").write_text("x")
        with pytest.raises(ConfigError) as err:
            load_pipeline(f)
        assert "channel_multiple" in err.value.message
        assert re.search(match, f"{err.value.message} {err.value.hint}"), (body, err.value.message, err.value.hint)
