"""Fidelity metrics: values on known outputs, and the fp32 reference against Keras itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgekit.artifact import Manifest
from edgekit.convert.fidelity import compare_outputs


def test_identical_outputs() -> None:
    ref = [np.array([[0.1, 0.9], [0.7, 0.3]], np.float32)]
    f = compare_outputs(ref, ref)
    assert (f.samples, f.max_abs_error, f.mean_abs_error, f.cosine, f.top1_agreement) == (2, 0.0, 0.0, 1.0, 1.0)


def test_known_differences() -> None:
    ref = [np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])]
    got = [np.array([[0.0, 1.0], [0.0, 1.5], [3.0, 4.0]])]
    f = compare_outputs(got, ref)
    assert f.max_abs_error == 1.0
    assert f.mean_abs_error == pytest.approx((1 + 1 + 0 + 0.5 + 0 + 0) / 6)
    assert f.cosine == pytest.approx((0.0 + 1.0 + 1.0) / 3)  # orthogonal, parallel, equal
    assert f.top1_agreement == pytest.approx(2 / 3)


def test_zero_vectors_and_non_class_outputs() -> None:
    ref = [np.zeros((2, 3, 3)), np.ones((2, 1))]
    got = [np.zeros((2, 3, 3)), np.ones((2, 1))]
    f = compare_outputs(got, ref)
    assert f.cosine == 1.0 and f.top1_agreement is None  # rank-3 first output: not a class vector
    f0 = compare_outputs([np.zeros((1, 4))], [np.ones((1, 4))])
    assert f0.cosine == 0.0 and f0.max_abs_error == 1.0


def test_fp32_reference_matches_keras(tiny_models: Any, tiny_converted: Manifest, calib_x: np.ndarray) -> None:
    import tensorflow as tf

    from edgekit.tflite.interpreter import LiteRTModel

    keras_out = tf.keras.models.load_model(tiny_models.keras_path, compile=False)(calib_x).numpy()
    lite_out = LiteRTModel(tiny_converted.get("fp32").path).predict(calib_x)
    np.testing.assert_allclose(lite_out, keras_out, atol=1e-5)
    f = compare_outputs([LiteRTModel(tiny_converted.get("int8").path).predict(calib_x)], [keras_out])
    assert f.cosine > 0.999 and f.max_abs_error < 0.05
