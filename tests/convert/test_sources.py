"""Model sources (.keras, .h5, SavedModel, keras.Model, .tflite) and calibration sources,
through real conversions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.artifact import Manifest
from edgekit.convert import api
from edgekit.convert.api import convert
from edgekit.convert.loading import open_model
from edgekit.tflite.interpreter import LiteRTModel


@pytest.fixture(scope="module")
def fp32_outputs(tiny_converted: Manifest, calib_x: np.ndarray) -> np.ndarray:
    return LiteRTModel(tiny_converted.get("fp32").path).predict(calib_x)


@pytest.mark.parametrize("kind", ["h5", "savedmodel", "keras-object"])
def test_h5_savedmodel_and_keras_object_convert_to_the_same_model(
        kind: str, tiny_models: Any, tmp_path: Path, calib_x: np.ndarray, fp32_outputs: np.ndarray) -> None:
    if kind == "h5":
        model: Any = tiny_models.h5_path
    elif kind == "savedmodel":
        model = tiny_models.savedmodel_dir
    else:
        import tensorflow as tf

        model = tf.keras.models.load_model(tiny_models.keras_path, compile=False)
    m = convert(model, tmp_path, variants=["fp32"], name=None if kind != "keras-object" else "from_object")
    fp32 = m.get("fp32")
    expected_name = {"h5": "tiny", "savedmodel": "tiny_savedmodel", "keras-object": "from_object"}[kind]
    assert fp32.path.name == f"{expected_name}_fp32.tflite"
    assert fp32.inputs[0].shape == (1, 8, 8, 1) and fp32.outputs[0].shape == (1, 4)
    np.testing.assert_allclose(LiteRTModel(fp32.path).predict(calib_x), fp32_outputs, atol=1e-5)
    if kind == "keras-object":
        assert m.model.startswith("<keras model")
        assert open_model(model).sha256 == m.model_sha256  # same weights, same hash


def test_keras_object_hash_follows_the_weights(tiny_models: Any) -> None:
    import tensorflow as tf

    model = tf.keras.models.load_model(tiny_models.keras_path, compile=False)
    before = open_model(model).sha256
    weights = model.get_weights()
    weights[0] = weights[0] + 1.0
    model.set_weights(weights)
    assert open_model(model).sha256 != before


def test_tflite_input_is_described_not_converted(tiny_models: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def no_conversion(*a: Any, **k: Any) -> None:
        raise AssertionError("a .tflite input must not be converted")

    monkeypatch.setattr(api, "convert_variant", no_conversion)
    m = convert(tiny_models.int8_tflite, tmp_path)
    (a,) = m.artifacts
    assert a.variant == "int8" and a.extra["described_only"] is True
    assert a.path == tmp_path / "tiny_int8.tflite" and a.path.read_bytes() == tiny_models.int8_tflite.read_bytes()
    assert a.inputs[0].dtype == "int8" and a.inputs[0].scale > 0 and a.outputs[0].dtype == "int8"
    assert a.fidelity is None and m.options["described_only"] is True
    fp32 = convert(tiny_models.fp32_tflite, tmp_path / "f").artifacts[0]
    assert fp32.variant == "fp32" and fp32.op_versions()["CONV_2D"] == 1
    assert Manifest.load(tmp_path / "manifest.json").artifacts[0].sha256 == a.sha256


def test_every_calibration_source_gives_the_same_int8_model(tiny_models: Any, tmp_path: Path,
                                                            calib_x: np.ndarray) -> None:
    np.save(tmp_path / "calib.npy", calib_x)
    sources = {"npy": tmp_path / "calib.npy", "ndarray": calib_x, "iterable": [s for s in calib_x],
               "callable": lambda: (calib_x[i] for i in range(len(calib_x)))}
    shas = {}
    for name, src in sources.items():
        m = convert(tiny_models.keras_path, tmp_path / name, variants="int8", calibration=src, samples=48)
        shas[name] = (m.options["calibration"]["sha256"], m.get("int8").sha256)
        assert m.get("int8").fidelity.samples == 16
    assert len(set(shas.values())) == 1, shas


def test_calibration_data_changes_the_int8_model(tiny_models: Any, tiny_converted: Manifest, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)

    def generator():  # noqa: ANN202 - a callable returning a generator of dark images
        for _ in range(60):
            yield (rng.random((8, 8, 1)) * 0.3).astype(np.float32)

    m = convert(tiny_models.keras_path, tmp_path, variants="int8", calibration=generator, use_cache=False)
    int8 = m.get("int8")
    assert int8.extra["cached"] is False and m.options["calibration"]["samples"] == 45
    reference = tiny_converted.get("int8")
    assert int8.sha256 != reference.sha256
    assert int8.inputs[0].dtype == "float32"
    # the input range seen in calibration sets the internal scale: darker data, finer steps
    from edgekit.tflite import read_model

    def input_scale(path: Path) -> float:
        return next(op.outputs[0].scale for op in read_model(path).operators if op.name == "QUANTIZE")

    assert input_scale(int8.path) < input_scale(reference.path)
