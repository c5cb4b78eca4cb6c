"""Every variant, converted by TensorFlow for real: files, manifest, dtypes, ops, fidelity."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgekit.artifact import VARIANTS, Manifest, sha256_file
from edgekit.tflite import read_model


def _activation_dtypes(path: Path, op_name: str) -> set[str]:
    """dtypes of the non-constant inputs of every ``op_name`` node in the file."""
    mf = read_model(path)
    return {t.dtype for op in mf.operators if op.name == op_name for t in op.inputs if not t.is_constant}


def test_all_five_variants_are_written_with_a_manifest(tiny_converted: Manifest) -> None:
    m = tiny_converted
    assert [a.variant for a in m.artifacts] == list(VARIANTS) and m.failures == ()
    for a in m.artifacts:
        assert a.path == m.folder / f"tiny_{a.variant}.tflite"
        assert a.path.is_file() and a.sha256 == sha256_file(a.path) and a.size_bytes == a.path.stat().st_size
        assert a.source.endswith("tiny.keras") and a.source_sha256 == m.model_sha256
        assert a.converter.startswith("tensorflow 2.") and a.tensorflow_version in a.converter
        assert a.conversion_seconds > 0 and a.min_runtime_version
        assert a.inputs[0].shape == (1, 8, 8, 1) and a.inputs[0].dynamic_dims == (0,)
        assert a.outputs[0].shape == (1, 4)
        assert {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= {o.name for o in a.ops}
    on_disk = Manifest.load(m.path)
    assert on_disk.to_dict() == m.to_dict()
    assert on_disk.options["calibration"]["samples"] == 48 and on_disk.options["calibration"]["holdback"] == 16


def test_operator_histogram_has_versions_from_the_flatbuffer(tiny_converted: Manifest) -> None:
    for a in tiny_converted.artifacts:
        mf = read_model(a.path)
        assert a.ops == mf.op_histogram
    fp32, int8 = tiny_converted.get("fp32"), tiny_converted.get("int8")
    assert fp32.op_versions()["CONV_2D"] == 1
    assert int8.op_versions()["CONV_2D"] >= 3  # int8 kernels need newer op versions
    assert sum(o.count for o in fp32.ops) == 6


def test_fp32_and_fp16_weights(tiny_converted: Manifest) -> None:
    fp32, fp16 = tiny_converted.get("fp32"), tiny_converted.get("fp16")
    assert set(fp32.extra["weight_dtypes"]) == {"float32", "int32"}
    assert "float32" not in fp16.extra["weight_dtypes"] and fp16.extra["weight_dtypes"]["float16"] > 0
    assert "DEQUANTIZE" in fp16.op_versions()  # float16 weights are dequantized at load
    assert fp16.size_bytes < fp32.size_bytes
    assert _activation_dtypes(fp16.path, "CONV_2D") == {"float32"}
    for a in (fp32, fp16):
        assert {t.dtype for t in (*a.inputs, *a.outputs)} == {"float32"}


def test_int8_is_full_integer_with_float_io_by_default(tiny_converted: Manifest) -> None:
    int8 = tiny_converted.get("int8")
    assert set(int8.extra["weight_dtypes"]) == {"int8", "int32"}
    assert int8.extra["weight_dtypes"]["int8"] == 3 * 3 * 1 * 8 + 3 * 3 * 8 * 8 + 8 * 4  # every kernel
    for op in ("CONV_2D", "FULLY_CONNECTED", "SOFTMAX"):
        assert _activation_dtypes(int8.path, op) == {"int8"}
    assert int8.inputs[0].dtype == "float32" and int8.outputs[0].dtype == "float32"
    assert {"QUANTIZE", "DEQUANTIZE"} <= set(int8.op_versions())


def test_int16x8_has_int16_activations_and_int8_weights(tiny_converted: Manifest) -> None:
    a = tiny_converted.get("int16x8")
    assert _activation_dtypes(a.path, "CONV_2D") == {"int16"}
    assert a.extra["weight_dtypes"]["int8"] == tiny_converted.get("int8").extra["weight_dtypes"]["int8"]
    assert a.inputs[0].dtype == "float32"


def test_dynamic_range_quantizes_large_weights_only(rgb_converted: Manifest) -> None:
    fp32, dyn = rgb_converted.get("fp32"), rgb_converted.get("dynamic")
    w = dyn.extra["weight_dtypes"]
    # 3×3×16×32 conv and 32×64 dense kernels (≥ 1024 elements) become int8; small ones stay float
    assert w["int8"] == 3 * 3 * 16 * 32 + 32 * 64
    assert w["float32"] > 0
    assert _activation_dtypes(dyn.path, "FULLY_CONNECTED") == {"float32"}
    assert {t.dtype for t in (*dyn.inputs, *dyn.outputs)} == {"float32"}
    assert dyn.size_bytes < 0.6 * fp32.size_bytes


def test_int8_io_has_quantization_parameters(rgb_converted: Manifest) -> None:
    int8 = rgb_converted.get("int8")
    inp, out = int8.inputs[0], int8.outputs[0]
    assert inp.dtype == "int8" and out.dtype == "int8"
    assert inp.quantized and 0 < inp.scale < 0.1 and -128 <= inp.zero_point <= 127
    assert out.scale == 1 / 256 and out.zero_point == -128  # softmax output range [0, 1)
    assert "QUANTIZE" not in int8.op_versions() and "DEQUANTIZE" not in int8.op_versions()
    assert int8.extra["weight_dtypes"]["int8"] == 3 * 3 * 3 * 16 + 3 * 3 * 16 * 32 + 32 * 64 + 64 * 10  # kernels
    assert "float32" not in int8.extra["weight_dtypes"]


def test_model_info_is_stored_in_every_artifact(rgb_converted: Manifest) -> None:
    for a in rgb_converted.artifacts:
        assert a.extra["model"] == {"name": "rgb", "width": 1.0}


def test_fidelity_of_each_variant(tiny_converted: Manifest) -> None:
    fids = {a.variant: a.fidelity for a in tiny_converted.artifacts}
    assert all(f is not None and f.samples == 16 for f in fids.values())
    ref = fids["fp32"]
    assert ref.max_abs_error == 0.0 and ref.cosine == 1.0 and ref.top1_agreement == 1.0
    for v in ("fp16", "int16x8"):
        assert 0 < fids[v].max_abs_error < 1e-3 and fids[v].cosine > 0.99999
    int8 = fids["int8"]
    assert 0 < int8.max_abs_error < 0.05 and int8.mean_abs_error <= int8.max_abs_error
    assert int8.cosine > 0.999 and int8.top1_agreement >= 0.9
    assert int8.max_abs_error > fids["int16x8"].max_abs_error  # 16-bit activations are closer


def test_debug_quantization_writes_per_layer_csv(tiny_converted: Manifest) -> None:
    int8 = tiny_converted.get("int8")
    assert int8.extra["quantization_debug"] == {"csv": "tiny_int8_debug.csv"}
    with open(tiny_converted.folder / "tiny_int8_debug.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["op_name"] for r in rows][:2] == ["CONV_2D", "MAX_POOL_2D"]
    assert {"CONV_2D", "FULLY_CONNECTED"} <= {r["op_name"] for r in rows}
    for r in rows:
        assert float(r["scale"]) > 0 and float(r["rmse/scale"]) >= 0
        assert float(r["max_abs_error"]) >= float(r["mean_abs_error"]) >= 0
        ratio = np.sqrt(float(r["mean_squared_error"])) / float(r["scale"])
        assert abs(float(r["rmse/scale"]) - ratio) <= 1e-4 * max(ratio, 1e-9) + 1e-9
