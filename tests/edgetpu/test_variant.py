"""make_edgetpu_variant: the manifest entry of a compiled model (STAND-IN compiler) and its errors."""

from __future__ import annotations

import pytest

from edgekit.artifact import Artifact, Manifest, sha256_file
from edgekit.edgetpu.compiler import ENV_COMPILER
from edgekit.edgetpu.variant import make_edgetpu_variant, recorded_runtime_version
from edgekit.errors import ConversionError
from edgekit.tflite.model_file import read_model


def _int8_artifact(path) -> Artifact:  # noqa: ANN001
    mf = read_model(path)
    return Artifact(path=path, sha256=mf.sha256, size_bytes=mf.size_bytes, variant="int8",
                    inputs=tuple(t.spec() for t in mf.inputs), outputs=tuple(t.spec() for t in mf.outputs),
                    ops=mf.op_histogram, source="tiny.keras", source_sha256="ab" * 32,
                    tensorflow_version="2.21.0", extra={"calibration": {"samples": 64}})


def test_edgetpu_artifact_and_manifest_roundtrip(tmp_path, tiny_models, stand_in_compiler, stand_in_mode) -> None:
    stand_in_mode("full")
    int8 = _int8_artifact(tiny_models.int8_tflite)
    a = make_edgetpu_variant(int8, tmp_path, compiler=stand_in_compiler)
    assert a.variant == "edgetpu" and a.path == tmp_path / "tiny_int8_edgetpu.tflite"
    assert a.sha256 == sha256_file(a.path) and a.size_bytes == a.path.stat().st_size
    assert a.converter == "edgetpu_compiler 16.0.384591198"
    assert (a.source, a.source_sha256, a.tensorflow_version) == ("tiny.keras", "ab" * 32, "2.21.0")
    assert [o.name for o in a.ops] == ["edgetpu-custom-op"]
    assert a.inputs[0].dtype == "int8" and a.inputs[0].shape == (1, 8, 8, 1)
    info = a.extra["edgetpu"]
    assert "calibration" not in a.extra
    n_ops = len(read_model(tiny_models.int8_tflite).operators)
    assert (info["ops_on_tpu"], info["ops_on_cpu"], info["total_ops"], info["subgraphs"]) == (n_ops, 0, n_ops, 1)
    assert info["runtime_version"] == 14 and info["min_runtime_version"] == 14
    assert info["compiler_version"] == "16.0.384591198"
    assert info["log_file"] == "tiny_int8_edgetpu.log" and (tmp_path / info["log_file"]).is_file()
    assert info["from_sha256"] == int8.sha256
    assert info["preflight"]["verdict"] == "full" and "ops" not in info["preflight"]
    assert "STAND-IN" in info["packages"][0]["model_identifier"]
    assert recorded_runtime_version(a) == 14

    m = Manifest(path=tmp_path / "manifest.json", model="tiny.keras", model_sha256="ab" * 32, artifacts=(a,))
    m.save()
    back = Manifest.load(tmp_path).get("edgetpu")
    assert back.path == a.path and back.extra == a.extra and back.sha256 == a.sha256


def test_runtime_version_follows_minus_m(tmp_path, tiny_models, stand_in_compiler, stand_in_mode) -> None:
    stand_in_mode("full")
    a = make_edgetpu_variant(_int8_artifact(tiny_models.int8_tflite), tmp_path, compiler=stand_in_compiler,
                             min_runtime_version=13)
    assert a.extra["edgetpu"]["runtime_version"] == 13 and recorded_runtime_version(a) == 13


def test_no_compiler_keeps_the_preflight_verdict(tmp_path, edgetpu_models, monkeypatch) -> None:
    monkeypatch.delenv(ENV_COMPILER, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConversionError) as info:
        make_edgetpu_variant(_int8_artifact(edgetpu_models.mid_leaky), tmp_path)
    assert "edgetpu_compiler is not installed" in info.value.message
    assert "partial — 1 of 6 ops on the Edge TPU" in info.value.message
    assert "sudo apt-get install edgetpu-compiler" in info.value.hint
    assert not list(tmp_path.glob("*_edgetpu.*"))


def test_compiler_failure_names_the_model_the_log_and_the_preflight(tmp_path, edgetpu_models, stand_in_compiler,
                                                                    stand_in_mode) -> None:
    stand_in_mode("internal_error")
    with pytest.raises(ConversionError) as info:
        make_edgetpu_variant(_int8_artifact(edgetpu_models.full), tmp_path, compiler=stand_in_compiler)
    msg = info.value.message
    assert "Internal compiler error" in msg and "full.tflite" in msg
    assert str(tmp_path / "full_edgetpu.compiler.txt") in msg
    assert "Preflight: edgetpu preflight 'full.tflite': full" in msg
