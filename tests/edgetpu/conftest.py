"""Real models converted by TensorFlow for the Edge TPU tests (session-scoped: converted once).

Weights are random (the preflight reads structure, not accuracy); every model is converted
with full-integer post-training quantization by the real TFLiteConverter.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

STAND_IN = Path(__file__).resolve().parents[1] / "fakes" / "edgetpu_compiler"


@dataclass(frozen=True)
class EdgeTpuModels:
    """Paths of the converted test models."""

    full: Path          # conv/relu/maxpool/depthwise/mean/dense/softmax, uint8 in and out: all ops map
    mid_leaky: Path     # CONV_2D, LEAKY_RELU, CONV_2D, ...: LeakyReLU is not on Coral's list
    dynamic: Path       # input (None, None, 3): sizes not constant at compile time
    float_middle: Path  # FLOOR kept in float (TFLITE_BUILTINS fallback): DEQUANTIZE/FLOOR/QUANTIZE in the middle
    gelu: Path          # GELU v2 (TF 2.9+): newer than edgetpu_compiler 16.0 can parse
    rank5: Path         # a 5-D tensor with 4 non-unit dimensions in the middle (static batch 1)


def _convert(keras_model, path: Path, shape: tuple[int, ...], io_dtype: str = "int8", fallback: bool = False) -> Path:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.random((1,) + shape, dtype=np.float32)] for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8] + (
        [tf.lite.OpsSet.TFLITE_BUILTINS] if fallback else [])
    conv.inference_input_type = getattr(tf, io_dtype)
    conv.inference_output_type = getattr(tf, io_dtype)
    path.write_bytes(conv.convert())
    return path


def _cnn(tf, shape: tuple, middle: Callable | None = None, with_pool: bool = False,  # noqa: ANN001,ANN202
         batch_size: int | None = None):
    inp = tf.keras.Input(shape, batch_size=batch_size)
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    if with_pool:
        x = tf.keras.layers.MaxPooling2D()(x)
        x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    if middle is not None:
        x = middle(x)
    x = tf.keras.layers.Conv2D(8, 1, activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(4)(x)
    return tf.keras.Model(inp, tf.keras.layers.Softmax()(x))


def _five_d(x):  # noqa: ANN001,ANN202 - a MEAN over a [1, 2, 8, 16, 8] tensor
    import tensorflow as tf

    five = tf.keras.layers.Reshape((2, 8, 16, 8))(x)
    return tf.keras.layers.Lambda(lambda t: tf.reduce_mean(t, axis=1))(five)


@pytest.fixture(scope="session")
def edgetpu_models(tmp_path_factory: pytest.TempPathFactory) -> EdgeTpuModels:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    d = tmp_path_factory.mktemp("edgetpu_models")
    s = (16, 16, 3)
    return EdgeTpuModels(
        full=_convert(_cnn(tf, s, with_pool=True), d / "full.tflite", s, io_dtype="uint8"),
        mid_leaky=_convert(_cnn(tf, s, tf.keras.layers.LeakyReLU(negative_slope=0.1)), d / "mid_leaky.tflite", s),
        dynamic=_convert(_cnn(tf, (None, None, 3)), d / "dynamic.tflite", s),
        float_middle=_convert(_cnn(tf, s, tf.keras.layers.Lambda(tf.math.floor)), d / "float_middle.tflite", s,
                              fallback=True),
        gelu=_convert(_cnn(tf, s, tf.keras.layers.Activation("gelu")), d / "gelu.tflite", s),
        rank5=_convert(_cnn(tf, s, _five_d, batch_size=1), d / "rank5.tflite", s),
    )


@pytest.fixture(scope="session")
def stand_in_compiler() -> str:
    """The STAND-IN edgetpu_compiler (tests/fakes), executable."""
    mode = STAND_IN.stat().st_mode
    if not mode & stat.S_IXUSR:
        os.chmod(STAND_IN, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(STAND_IN)


@pytest.fixture()
def stand_in_mode(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Choose what the stand-in compiler does: ``stand_in_mode("partial", cut=1)``."""

    def choose(mode: str, cut: int | None = None) -> None:
        monkeypatch.setenv("EDGEKIT_FAKE_EDGETPU_MODE", mode)
        if cut is None:
            monkeypatch.delenv("EDGEKIT_FAKE_EDGETPU_CUT", raising=False)
        else:
            monkeypatch.setenv("EDGEKIT_FAKE_EDGETPU_CUT", str(cut))

    monkeypatch.delenv("EDGEKIT_EDGETPU_COMPILER", raising=False)
    choose("full")
    return choose
