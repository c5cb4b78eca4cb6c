from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.tflite import read_model


def test_reads_ops_versions_and_io(tiny_models) -> None:
    m = read_model(tiny_models.int8_tflite)
    names = {op.name for op in m.op_histogram}
    assert {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"} <= names
    assert all(op.version >= 1 and op.count >= 1 for op in m.op_histogram)
    assert sum(op.count for op in m.op_histogram) == len(m.operators)
    (inp,) = m.inputs
    assert inp.dtype == "int8" and inp.quantized and inp.shape == (1, 8, 8, 1)
    assert m.outputs[0].dtype == "int8"
    assert m.min_runtime_version  # the converter records it
    f = read_model(tiny_models.fp32_tflite)
    assert f.inputs[0].dtype == "float32" and not f.inputs[0].quantized
    assert f.size_bytes > m.size_bytes


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_model(tmp_path / "nope.tflite")


def test_foreign_file_names_what_it_is(tiny_models, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HDF5"):
        read_model(tiny_models.h5_path)
    with pytest.raises(ConfigError, match="zip archive"):
        read_model(tiny_models.keras_path)
    txt = tmp_path / "model.tflite"
    txt.write_text("hello, this is text")
    with pytest.raises(ConfigError, match="not a .tflite model") as err:
        read_model(txt)
    assert err.value.hint


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_file(tiny_models, tmp_path: Path, keep: float) -> None:
    data = tiny_models.fp32_tflite.read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ConfigError, match="truncated or corrupt"):
        read_model(cut)


def test_tiny_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.tflite"
    p.write_bytes(b"")
    with pytest.raises(ConfigError, match="too short"):
        read_model(p)
