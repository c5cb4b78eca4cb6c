"""The content-addressed conversion cache: hits skip TensorFlow and give identical bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from edgekit import __version__
from edgekit.artifact import Manifest
from edgekit.convert import api
from edgekit.convert.api import convert
from edgekit.convert.cache import ConvertCache
from edgekit.convert.loading import ModelSource
from edgekit.convert.variants import tensorflow_version

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every variant actually converted by TensorFlow (and still converts it)."""
    calls: list[str] = []
    real: Callable[..., float] = api.convert_variant

    def recording(loaded: Any, variant: str, *args: Any, **kwargs: Any) -> float:
        calls.append(variant)
        return real(loaded, variant, *args, **kwargs)

    monkeypatch.setattr(api, "convert_variant", recording)
    return calls


def test_second_conversion_is_a_cache_hit_without_tensorflow(tiny_models: Any, tiny_converted: Manifest,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*a: Any, **k: Any) -> None:
        raise AssertionError("a cache hit must not load the model or call the converter")

    monkeypatch.setattr(api, "convert_variant", forbidden)
    monkeypatch.setattr(ModelSource, "load", forbidden)
    m = convert(tiny_models.keras_path, tmp_path, calibration=tiny_models.calibration_npz)
    assert m.failures == ()
    for a in m.artifacts:
        first = tiny_converted.get(a.variant)
        assert a.extra["cached"] is True
        assert a.sha256 == first.sha256 and a.path.read_bytes() == first.path.read_bytes()
        assert a.path.parent == tmp_path
        assert a.fidelity == first.fidelity and a.conversion_seconds == pytest.approx(first.conversion_seconds, abs=1e-4)


def test_cache_hit_in_a_fresh_process_never_imports_tensorflow(tiny_models: Any, tiny_converted: Manifest,
                                                               tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import json, sys, time
        import edgekit
        start = time.perf_counter()
        m = edgekit.convert({str(tiny_models.keras_path)!r}, {str(tmp_path)!r},
                            calibration={str(tiny_models.calibration_npz)!r})
        print(json.dumps({{"tensorflow": "tensorflow" in sys.modules,
                           "cached": [a.extra["cached"] for a in m.artifacts],
                           "sha": [a.sha256 for a in m.artifacts], "seconds": time.perf_counter() - start}}))
    """)
    env = {**os.environ, "EDGEKIT_CACHE_DIR": os.environ["EDGEKIT_CACHE_DIR"]}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tensorflow"] is False
    assert result["cached"] == [True] * 5
    assert result["sha"] == [a.sha256 for a in tiny_converted.artifacts]


def test_new_calibration_data_reconverts_only_the_calibrated_variants(
        tiny_models: Any, tiny_converted: Manifest, tmp_path: Path, calib_x: np.ndarray,
        conversions: list[str]) -> None:
    m = convert(tiny_models.keras_path, tmp_path, calibration=calib_x[:60])  # another calibration set
    assert conversions == ["int8", "int16x8"]
    assert {a.variant: a.extra["cached"] for a in m.artifacts} == {
        "fp32": True, "fp16": True, "dynamic": True, "int8": False, "int16x8": False}
    assert m.get("fp16").sha256 == tiny_converted.get("fp16").sha256
    assert m.options["calibration"]["sha256"] != tiny_converted.options["calibration"]["sha256"]
    conversions.clear()
    convert(tiny_models.keras_path, tmp_path / "again", variants="int8,int16x8", calibration=calib_x[:60])
    assert conversions == []  # now cached, each variant on its own key


def test_io_dtype_is_part_of_the_int8_key(tiny_models: Any) -> None:
    keys = {ConvertCache.key("m" * 64, "int8", {"calibration": "c", "io_dtype": io}, tensorflow_version(),
                             __version__) for io in ("float32", "int8", "uint8")}
    assert len(keys) == 3
    assert ConvertCache.key("m" * 64, "fp32", {}, "2.21.0", "0.1.0") != ConvertCache.key("m" * 64, "fp32", {},
                                                                                         "2.22.0", "0.1.0")


def test_damaged_entry_is_dropped_and_use_cache_false_converts(tiny_models: Any, tiny_converted: Manifest,
                                                               tmp_path: Path, conversions: list[str]) -> None:
    source = api.open_model(tiny_models.keras_path)
    key = ConvertCache.key(source.sha256, "fp16", {}, tensorflow_version(), __version__)
    entry = ConvertCache().get(key)
    assert entry is not None and entry.record["variant"] == "fp16"
    entry.tflite.write_bytes(entry.tflite.read_bytes()[:100])  # truncate the cached bytes
    m = convert(tiny_models.keras_path, tmp_path, variants="fp16")
    assert conversions == ["fp16"]  # no calibration: no fidelity, so no fp32 reference either
    fp16 = m.get("fp16")
    assert fp16.extra["cached"] is False and fp16.sha256 == tiny_converted.get("fp16").sha256  # deterministic
    assert ConvertCache().get(key) is not None  # re-cached
    conversions.clear()
    m2 = convert(tiny_models.keras_path, tmp_path / "nocache", variants="fp32", use_cache=False)
    assert conversions == ["fp32"] and m2.get("fp32").extra["cached"] is False


def test_cache_dir_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "c"))
    assert ConvertCache().root == tmp_path / "c"
    monkeypatch.delenv("EDGEKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ConvertCache().root == tmp_path / "xdg" / "edgekit" / "convert"
