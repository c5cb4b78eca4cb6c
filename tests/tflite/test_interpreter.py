"""LiteRTModel: float batches in, float outputs out, whatever the model's I/O types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.tflite.interpreter import LiteRTModel, dequantize, quantize


@pytest.fixture(scope="module")
def test_x(tiny_models: Any) -> np.ndarray:
    with np.load(tiny_models.test_npz) as npz:
        return npz["x"]


def test_quantize_rounds_and_clips() -> None:
    detail = {"dtype": np.int8, "quantization": (0.5, -10)}
    q = quantize(np.array([0.0, 0.26, -0.74, 1000.0, -1000.0]), detail)
    assert q.dtype == np.int8 and q.tolist() == [-10, -9, -11, 127, -128]
    u = quantize(np.array([0.0, 1.0, -1.0]), {"dtype": np.uint8, "quantization": (1 / 255, 0)})
    assert u.tolist() == [0, 255, 0]
    f = quantize(np.array([0.5]), {"dtype": np.float32, "quantization": (0.0, 0)})
    assert f.dtype == np.float32 and f.tolist() == [0.5]
    d = dequantize(np.array([-128, 0, 127], np.int8), {"dtype": np.int8, "quantization": (0.25, -128)})
    assert d.dtype == np.float32 and d.tolist() == [0.0, 32.0, 63.75]


def test_int8_io_model_is_called_with_floats(tiny_models: Any, test_x: np.ndarray) -> None:
    int8 = LiteRTModel(tiny_models.int8_tflite)
    fp32 = LiteRTModel(tiny_models.fp32_tflite)
    assert int8.inputs[0]["dtype"] == np.int8 and int8.input_shape == (8, 8, 1)
    a, b = int8.predict(test_x), fp32.predict(test_x)
    assert a.dtype == np.float32 and a.shape == b.shape == (48, 4)
    assert np.abs(a - b).max() < 0.05
    assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.9


def test_batches_equal_single_samples(tiny_models: Any, test_x: np.ndarray) -> None:
    model = LiteRTModel(tiny_models.int8_tflite)
    batched = model.predict(test_x)  # resized to a batch of 48
    single = np.concatenate([model.predict(test_x[i:i + 1]) for i in range(5)])
    np.testing.assert_array_equal(batched[:5], single)
    assert model.predict(test_x[:0]).shape == (0, 4)


def test_bad_inputs(tiny_models: Any, tmp_path: Path, test_x: np.ndarray) -> None:
    model = LiteRTModel(tiny_models.fp32_tflite)
    with pytest.raises(ConfigError, match=r"input data shape \(28, 28, 1\) does not match the input \(8, 8, 1\)"):
        model.predict(np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(ConfigError, match="has 1 inputs; got 2 arrays"):
        model.predict([test_x, test_x])
    with pytest.raises(ConfigError, match="does not exist"):
        LiteRTModel(tmp_path / "missing.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(tiny_models.fp32_tflite.read_bytes()[:600])
    with pytest.raises(ConfigError, match="cannot load"):
        LiteRTModel(bad)
