"""Every bad input gets one clear error (value, reason, next step), through the API and the
CLI (exit code ≠ 0, "error:" and "hint:" on stderr, no traceback), and converted variants are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.artifact import Manifest
from edgekit.cli.main import main
from edgekit.convert.api import convert
from edgekit.errors import ConfigError, ConversionError

from .shared_conversions import build_cumsum_model


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # Rich would wrap long paths at 80 columns


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, " ".join(err.split())  # undo Rich's line wrapping


def assert_clean_error(rc: int, err: str, *words: str, code: int = 2) -> None:
    assert rc == code, err
    assert "error:" in err and "hint:" in err and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


# -- the model file ------------------------------------------------------------------
def test_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="model '.*nope.keras' does not exist") as info:
        convert(tmp_path / "nope.keras", tmp_path / "out")
    assert ".keras file" in info.value.hint
    rc, _, err = run_cli(capsys, "convert", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "out"))
    assert_clean_error(rc, err, "nope.keras' does not exist")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, content, says", [
    ("model.keras", b"just some text\n", "it looks like a text file"),
    ("weights.bin", b"\x00\x01\x02\x03garbage\xff" * 10, "binary data that is not TFLite"),
    ("calib.npz", None, "a NumPy .npz archive without config.json"),
    ("model.h5", b"", "an empty file"),
])
def test_file_that_is_not_a_model(name: str, content: bytes | None, says: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    if content is None:
        np.savez(path, x=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        convert(path, tmp_path / "out")
    assert str(path) in str(info.value) and says in str(info.value) and info.value.hint
    rc, _, err = run_cli(capsys, "convert", str(path), "-o", str(tmp_path / "out"))
    assert_clean_error(rc, err, says)


def test_truncated_or_corrupted_tflite(tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_models.fp32_tflite.read_bytes()
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(ConfigError, match="truncated or corrupt"):
        convert(truncated, tmp_path / "out")
    rc, _, err = run_cli(capsys, "convert", str(truncated), "-o", str(tmp_path / "out"))
    assert_clean_error(rc, err, f"'{truncated}' is truncated or corrupt", "copy or convert the model again")
    assert not (tmp_path / "out").exists()
    corrupted = tmp_path / "corrupted.tflite"
    corrupted.write_bytes(data[:4] + b"XXXX" + data[8:])
    rc, _, err = run_cli(capsys, "convert", str(corrupted), "-o", str(tmp_path / "out"))
    assert_clean_error(rc, err, "corrupted.tflite' is not a .tflite model", "b'XXXX'")


def test_truncated_keras_file(tiny_models: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cut.keras"
    path.write_bytes(tiny_models.keras_path.read_bytes()[:500])
    rc, _, err = run_cli(capsys, "convert", str(path), "-o", str(tmp_path / "out"), "--variants", "fp32")
    assert_clean_error(rc, err, "cut.keras' is a truncated or corrupt zip archive")


# -- variants and calibration -----------------------------------------------------------
def test_unknown_variant_is_refused_before_any_work(tiny_models: Any, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="unknown variant 'int4'") as info:
        convert(tiny_models.keras_path, tmp_path / "out", variants="fp32,int4")
    assert "fp32, fp16, dynamic, int8, int16x8, edgetpu" in info.value.hint
    rc, _, err = run_cli(capsys, "convert", str(tiny_models.keras_path), "-o", str(tmp_path / "out"),
                         "--variants", "fp16,float8,int3")
    assert_clean_error(rc, err, "unknown variants 'float8', 'int3'", "choose from: fp32")
    assert not (tmp_path / "out").exists()


def test_missing_calibration_is_refused_before_any_work(tiny_models: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="variants int8, int16x8 need calibration data"):
        convert(tiny_models.keras_path, tmp_path / "out")
    rc, _, err = run_cli(capsys, "convert", str(tiny_models.keras_path), "-o", str(tmp_path / "out"),
                         "--variants", "fp32,int8")
    assert_clean_error(rc, err, "variant int8 need", "--calibration")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="--debug-quantization reports on the int8 variant"):
        convert(tiny_models.keras_path, tmp_path / "out", variants="fp32", debug_quantization=True)
    with pytest.raises(ConfigError, match="unknown --io-dtype 'int4'"):
        convert(tiny_models.keras_path, tmp_path / "out", variants="fp32", io_dtype="int4")
    with pytest.raises(ConfigError, match="edgetpu variant needs int8 or uint8 I/O"):
        convert(tiny_models.keras_path, tmp_path / "out", variants="edgetpu", io_dtype="float32",
                calibration=tiny_models.calibration_npz)


@pytest.mark.parametrize("make, says", [
    (lambda x: np.zeros((60, 28, 28), np.float32), "has rank 3"),
    (lambda x: np.zeros((60, 28, 28, 1), np.float32), "calibration sample shape (28, 28, 1)"),
    (lambda x: x.reshape(len(x), -1), "has rank 2"),
    (lambda x: np.full((60, 8, 8, 1), "pixel"), "which is not numeric"),
])
def test_calibration_of_wrong_shape_rank_or_dtype(make: Any, says: str, tiny_models: Any, calib_x: np.ndarray,
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = make(calib_x)
    with pytest.raises(ConfigError) as info:
        convert(tiny_models.keras_path, tmp_path / "out", variants="int8", calibration=bad)
    assert says in str(info.value) and "(8, 8, 1)" in str(info.value) + info.value.hint
    np.savez(tmp_path / "bad.npz", x=bad)
    rc, _, err = run_cli(capsys, "convert", str(tiny_models.keras_path), "-o", str(tmp_path / "out"),
                         "--variants", "int8", "--calibration", str(tmp_path / "bad.npz"))
    assert_clean_error(rc, err, says, "bad.npz")


def test_nan_or_inf_in_calibration(tiny_models: Any, calib_x: np.ndarray, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = calib_x.copy()
    bad[3, 2, 2, 0] = np.inf
    with pytest.raises(ConfigError, match="0 NaN and 1 Inf values in 1 samples; the first is sample 3"):
        convert(tiny_models.keras_path, tmp_path / "out", variants="int8", calibration=bad)
    bad[5, 0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    rc, _, err = run_cli(capsys, "convert", str(tiny_models.keras_path), "-o", str(tmp_path / "out"),
                         "--variants", "int8,int16x8", "-c", str(tmp_path / "nan.npy"))
    assert_clean_error(rc, err, "1 NaN and 1 Inf values in 2 samples", "first is sample 3")


def test_fewer_calibration_samples_than_asked(tiny_models: Any, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="has 64 samples; 500 were asked") as info:
        convert(tiny_models.keras_path, tmp_path / "out", variants="int8",
                calibration=tiny_models.calibration_npz, samples=500)
    assert "--samples 48" in info.value.hint
    rc, _, err = run_cli(capsys, "convert", str(tiny_models.keras_path), "-o", str(tmp_path / "out"),
                         "--variants", "int8", "-c", str(tiny_models.calibration_npz), "--samples", "60")
    assert_clean_error(rc, err, "has 64 samples; 60 were asked", "--samples 48")


# -- an operator without an integer kernel ------------------------------------------------
def test_op_that_cannot_be_integer_only_names_the_op_and_keeps_the_rest(calib_x: np.ndarray, tmp_path: Path) -> None:
    model = build_cumsum_model()
    m = convert(model, tmp_path, variants="fp32,dynamic,int8", calibration=calib_x)
    assert [a.variant for a in m.artifacts] == ["fp32", "dynamic"]
    assert all(a.path.is_file() for a in m.artifacts)
    (failure,) = m.failures
    assert failure.variant == "int8" and "CUMSUM cannot be quantized to integer-only" in failure.error
    assert "--variants dynamic" in failure.hint and "fp16/fp32" in failure.hint
    assert not (tmp_path / "cumsum_net_int8.tflite").exists()  # no misleading half-float "int8" file
    on_disk = Manifest.load(tmp_path)
    assert [f.variant for f in on_disk.failures] == ["int8"] and len(on_disk.artifacts) == 2
    with pytest.raises(ConversionError, match="no variant converted: int8: operator CUMSUM") as info:
        convert(model, tmp_path / "only", variants="int8", calibration=calib_x)
    assert "--variants dynamic" in info.value.hint
    m16 = convert(model, tmp_path / "i16", variants="fp32,int16x8", calibration=calib_x)
    assert "CUMSUM" in m16.failures[0].error and m16.failures[0].variant == "int16x8"


def test_cli_exits_nonzero_and_keeps_converted_variants(cumsum_savedmodel: Path, tiny_models: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc, stdout, err = run_cli(capsys, "convert", str(cumsum_savedmodel), "-o", str(out),
                              "--variants", "fp32,int8", "-c", str(tiny_models.calibration_npz))
    assert_clean_error(rc, err, "int8: operator CUMSUM cannot be quantized", "--variants dynamic", code=3)
    assert "fp32" in stdout and "cumsum_sm_fp32.tflite" not in err
    m = Manifest.load(out / "manifest.json")
    assert [a.variant for a in m.artifacts] == ["fp32"] and m.get("fp32").path.is_file()
    # --verbose shows the traceback
    rc, _, err = run_cli(capsys, "--verbose", "convert", str(cumsum_savedmodel), "-o", str(out),
                         "--variants", "int8", "-c", str(tiny_models.calibration_npz))
    assert rc == 3 and "Traceback" in err and "CUMSUM" in err
