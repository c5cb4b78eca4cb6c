"""convert() behaviour around the variants: manifest merging, the edgetpu hand-off, the
callable package, and the CLI's table and JSON."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import edgekit
from edgekit.artifact import Artifact, Manifest
from edgekit.cli.main import main
from edgekit.convert.api import convert, parse_variants
from edgekit.errors import ConfigError, ConversionError


def test_parse_variants_orders_and_deduplicates() -> None:
    assert parse_variants("int8, FP32,int8") == ["fp32", "int8"]
    assert parse_variants(["edgetpu", "fp16"]) == ["fp16", "edgetpu"]
    with pytest.raises(ConfigError, match="no variants given"):
        parse_variants(" , ")


def test_package_is_callable_like_the_api(tiny_models: Any, tmp_path: Path) -> None:
    import edgekit.convert.cache  # noqa: F401 - binds the subpackage to edgekit.convert

    m = edgekit.convert(tiny_models.keras_path, tmp_path, variants=["fp16"])
    assert isinstance(m, Manifest) and m.get("fp16").path.is_file()


def test_converting_more_variants_into_out_keeps_the_earlier_ones(tiny_models: Any, tmp_path: Path) -> None:
    convert(tiny_models.keras_path, tmp_path, variants="fp16")
    m = convert(tiny_models.keras_path, tmp_path, variants="dynamic", name="tiny")
    assert [a.variant for a in m.artifacts] == ["fp16", "dynamic"]
    assert Manifest.load(tmp_path).options["variants"] == ["dynamic"]
    # another model into the same folder replaces the manifest
    other = convert(tiny_models.h5_path, tmp_path, variants="fp32", name="tiny")
    assert [a.variant for a in other.artifacts] == ["fp32"]


def _int8_like(int8: Artifact, out_dir: Path, variant: str = "edgetpu") -> Artifact:
    dest = out_dir / f"{int8.path.stem}_edgetpu.tflite"
    dest.write_bytes(int8.path.read_bytes())
    return int8.with_(path=dest, variant=variant, extra={"edgetpu": {"compiler": "test double"}})


def test_edgetpu_is_compiled_from_int8_with_integer_io(tiny_models: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Artifact] = []

    def make_edgetpu_variant(int8_artifact: Artifact, out_dir: Path, compiler: str | None = None) -> Artifact:
        seen.append(int8_artifact)
        return _int8_like(int8_artifact, out_dir)

    module = types.ModuleType("edgekit.edgetpu.variant")
    module.make_edgetpu_variant = make_edgetpu_variant  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "edgekit.edgetpu.variant", module)
    m = convert(tiny_models.keras_path, tmp_path, variants="edgetpu", calibration=tiny_models.calibration_npz,
                model_info={"name": "tiny", "width": 0.25})
    assert [a.variant for a in m.artifacts] == ["int8", "edgetpu"]
    (int8,) = seen
    assert int8.inputs[0].dtype == "int8" and int8.outputs[0].dtype == "int8"  # the EdgeTPU needs int8 I/O
    assert m.options["io_dtype"] == "int8"
    assert m.get("edgetpu").extra["model"] == {"name": "tiny", "width": 0.25}


def test_edgetpu_compiler_failure_is_a_variant_failure(tiny_models: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def make_edgetpu_variant(int8_artifact: Artifact, out_dir: Path, compiler: str | None = None) -> Artifact:
        raise ConversionError("edgetpu: edgetpu_compiler was not found", hint="install it")

    module = types.ModuleType("edgekit.edgetpu.variant")
    module.make_edgetpu_variant = make_edgetpu_variant  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "edgekit.edgetpu.variant", module)
    m = convert(tiny_models.keras_path, tmp_path, variants="int8,edgetpu", io_dtype="uint8",
                calibration=tiny_models.calibration_npz)
    assert [a.variant for a in m.artifacts] == ["int8"] and m.get("int8").inputs[0].dtype == "uint8"
    assert [(f.variant, f.error, f.hint) for f in m.failures] == [
        ("edgetpu", "edgetpu: edgetpu_compiler was not found", "install it")]


def test_cli_table_and_json(tiny_models: Any, tiny_converted: Manifest, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rc = main(["convert", str(tiny_models.keras_path), "-o", str(tmp_path / "a"),
               "-c", str(tiny_models.calibration_npz), "--variants", "fp32,int8,fp16"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:-1]]
             for ln in out.splitlines() if ln.startswith("│")}
    assert set(lines) == {"fp32", "fp16", "int8"}
    fp32, int8 = tiny_converted.get("fp32"), tiny_converted.get("int8")
    assert lines["int8"][0] == f"{int8.size_bytes / 1024:.1f}"
    assert lines["int8"][1] == f"{fp32.size_bytes / int8.size_bytes:.2f}×"
    assert lines["int8"][4] == f"{int8.fidelity.max_abs_error:.2g}" and lines["int8"][-1] == "yes"
    assert "fidelity on 16 held-back samples" in out and "[convert] 3/3" in err
    rc = main(["convert", str(tiny_models.keras_path), "-o", str(tmp_path / "b"), "--variants", "fp16",
               "--json", "--name", "renamed"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert rc == 0 and doc["schema"] == 1 and doc["kind"] == "edgekit.manifest"
    assert doc["artifacts"][0]["file"] == "renamed_fp16.tflite"
    assert (tmp_path / "b" / "renamed_fp16.tflite").is_file()
