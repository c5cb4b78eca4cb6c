"""A variant that converts but that LiteRT cannot prepare is a failed variant, not an artifact.

The reproducing model is a MobileNet-style network (stem conv + ReLU6, one inverted-residual
block: 1×1 expand conv + ReLU6, 3×3 depthwise + ReLU6, 1×1 project, residual ADD) whose
expand layer is near-dead (weights ~1e-5, as weight decay leaves an unused layer of a trained
model: its outputs stay below 1e-4 on every calibration sample). TensorFlow 2.21 converts it
to int16x8, but the symmetric int16 output scale of that layer (max/32767) is so small that
LiteRT's Prepare overflows int32 quantizing the ReLU6 bound 6.0:
``no_integer_overflow_from_quantization was not true … CONV_2D failed to prepare`` (the same
with XNNPACK or not). The int8 variant of the same model loads and runs. A fully dead layer
(bias −100) breaks both: int8 then fails in XNNPACK ("failed to create XNNPACK runtime").
``keras.applications.MobileNetV2`` itself (random weights, 32×32, alpha 0.35) reproduces it
too (operator #15 DEPTHWISE_CONV_2D, block_4_depthwise_relu, output scale 1.25e-09) but takes
~50 s to convert here; ``benchmarks/convert_load_check.py`` runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.artifact import Manifest
from edgekit.cli.main import main
from edgekit import __version__
from edgekit.convert import api
from edgekit.convert.api import convert
from edgekit.convert.cache import ConvertCache
from edgekit.convert.calibration import prepare_calibration
from edgekit.convert.load_check import check_loads
from edgekit.convert.variants import VariantOptions, convert_variant, tensorflow_version
from edgekit.errors import ConversionError
from edgekit.tflite.describe import describe_tflite


def build_dead_mobilenet_block(seed: int = 0) -> Any:
    """The smallest MobileNet-style model found that reproduces the int16x8 prepare failure."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    image = tf.keras.Input((16, 16, 3), name="image")
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(image)
    x = layers.ReLU(6.0, name="stem_relu6")(x)
    skip = x
    x = layers.Conv2D(32, 1, padding="same", name="b1_expand",  # near-dead: outputs below 1e-4
                      kernel_initializer=tf.keras.initializers.RandomNormal(stddev=1e-5))(x)
    x = layers.ReLU(6.0, name="b1_expand_relu6")(x)
    x = layers.DepthwiseConv2D(3, padding="same", name="b1_depthwise")(x)
    x = layers.ReLU(6.0, name="b1_depthwise_relu6")(x)
    x = layers.Conv2D(8, 1, padding="same", name="b1_project")(x)
    x = layers.Add(name="b1_add")([skip, x])
    x = layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(image, layers.Dense(4, name="logits")(x), name="dead_mobilenet")


@pytest.fixture(scope="module")
def dead_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("dead")
    keras_path = folder / "dead_mobilenet.keras"
    build_dead_mobilenet_block().save(keras_path)
    np.savez(folder / "calib.npz", x=np.random.default_rng(0).random((40, 16, 16, 3), np.float32))
    return keras_path, folder / "calib.npz"


@pytest.fixture(scope="module")
def dead_converted(dead_model: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    keras_path, calib = dead_model
    return convert(keras_path, tmp_path_factory.mktemp("dead_out"), variants="int8,int16x8", calibration=calib)


def test_unloadable_int16x8_is_a_failure_with_reason_operator_and_hint(dead_converted: Manifest) -> None:
    out = dead_converted.path.parent
    assert [a.variant for a in dead_converted.artifacts] == ["int8"]  # int8 of the same model loads
    assert dead_converted.get("int8").fidelity is not None
    assert (out / "dead_mobilenet_int8.tflite").is_file()
    assert not (out / "dead_mobilenet_int16x8.tflite").exists()
    [failure] = dead_converted.failures
    assert failure.variant == "int16x8"
    assert "no_integer_overflow_from_quantization" in failure.error and "failed to prepare" in failure.error
    assert "CONV_2D" in failure.error and "b1_expand" in failure.error  # the layer, from the flatbuffer
    assert "use int8 instead" in failure.hint and "#2 CONV_2D" in failure.hint
    reloaded = Manifest.load(dead_converted.path)
    assert [f.variant for f in reloaded.failures] == ["int16x8"]
    assert "int16x8" not in {a.variant for a in reloaded.artifacts}


def test_cli_exits_3_with_reason_and_hint(dead_model: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    keras_path, calib = dead_model
    rc = main(["convert", str(keras_path), "-o", str(tmp_path / "cli"), "-c", str(calib), "--variants", "int16x8"])
    _, err = capsys.readouterr()
    err = " ".join(err.split())
    assert rc == 3, err
    assert "no_integer_overflow_from_quantization" in err and "hint:" in err and "Traceback" not in err
    assert not (tmp_path / "cli" / "dead_mobilenet_int16x8.tflite").exists()


def test_unloadable_file_from_the_cache_is_refused(dead_model: tuple[Path, Path], dead_converted: Manifest,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unloadable file is never cached; one cached by an older edgekit fails on a hit too."""
    keras_path, calib = dead_model
    source = api.open_model(keras_path)
    key = ConvertCache.key(source.sha256, "int16x8", {"calibration": dead_converted.options["calibration"]["sha256"]},
                           tensorflow_version(), __version__)
    assert ConvertCache().get(key) is None
    loaded = source.load()
    options = VariantOptions(prepare_calibration(calib, loaded.inputs[0]), "float32")
    raw = tmp_path / "raw_int16x8.tflite"
    convert_variant(loaded, "int16x8", options, raw)  # what edgekit wrote before the load check
    art = describe_tflite(raw, "int16x8", source=source.description, source_sha256=source.sha256)
    assert ConvertCache().put(key, raw, {"variant": "int16x8", "artifact": art.to_dict(), "fidelity": {}})

    def no_conversion(*args: Any, **kwargs: Any) -> float:
        raise AssertionError("expected a cache hit")

    monkeypatch.setattr(api, "convert_variant", no_conversion)
    with pytest.raises(ConversionError, match="no_integer_overflow_from_quantization") as info:
        convert(keras_path, tmp_path / "out", variants="int16x8", calibration=calib)
    assert "int8 instead" in (info.value.hint or "")
    assert not (tmp_path / "out" / "dead_mobilenet_int16x8.tflite").exists()
    assert [f.variant for f in Manifest.load(tmp_path / "out" / "manifest.json").failures] == ["int16x8"]


def test_a_file_the_runtime_cannot_load_names_the_stage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    with pytest.raises(ConversionError, match="cannot load it") as info:
        check_loads(bad, "int16x8")
    assert "int8 instead" in (info.value.hint or "")
