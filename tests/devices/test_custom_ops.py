"""Custom operators are found in the flatbuffer and refused before anything is pushed;
``edgekit deploy --json`` prints one JSON error document with the documented exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.devices.custom_ops import custom_ops, provider_of
from edgekit.errors import RuntimeIncompatible
from edgekit.tflite.model_file import read_model

REPO = Path(__file__).resolve().parents[2]


def with_custom_op(src: Path, dst: Path, builtin: str = "SOFTMAX", custom: str = "Landmarks2TransformMatrix") -> Path:
    """``src`` with its ``builtin`` operator turned into a CUSTOM op named ``custom`` (the
    flatbuffer edited through TFLite's own schema, as MediaPipe's exporter writes such ops)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(src.read_bytes(), 0))
    code = next(oc for oc in model.operatorCodes
                if max(oc.builtinCode, oc.deprecatedBuiltinCode) == getattr(schema.BuiltinOperator, builtin))
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = custom
    for sg in model.subgraphs:
        for op in sg.operators:
            if model.operatorCodes[op.opcodeIndex] is code:
                op.builtinOptionsType, op.builtinOptions = 0, None
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))
    return dst


@pytest.fixture
def custom_model(tiny_models, tmp_path: Path) -> Path:  # noqa: ANN001
    return with_custom_op(tiny_models.fp32_tflite, tmp_path / "landmarks.tflite")


def test_custom_ops_are_read_from_the_flatbuffer(custom_model: Path, tiny_models) -> None:  # noqa: ANN001
    assert custom_ops(read_model(custom_model)) == ["Landmarks2TransformMatrix"]
    assert custom_ops(read_model(tiny_models.fp32_tflite)) == []
    assert "MediaPipe" in provider_of("Landmarks2TransformMatrix") and "Flex" in provider_of("FlexErf")


def test_refused_before_anything_is_pushed(custom_model: Path, tmp_path: Path) -> None:
    from edgekit.devices.deploy import deploy
    from edgekit.devices.profile import profile_from_dict
    from edgekit.measurement import RunSettings

    work = tmp_path / "work"
    profile = profile_from_dict({"kind": "host", "transport": "local", "python": sys.executable,
                                 "workdir": str(work)}, source="test", name="h")
    with pytest.raises(RuntimeIncompatible) as info:
        deploy(custom_model, device=profile, settings=RunSettings(runs=2, min_seconds=0), store=False)
    assert "Landmarks2TransformMatrix" in info.value.message and "MediaPipe" in info.value.message
    assert not list((work / "models").glob("*")) if (work / "models").exists() else True   # nothing pushed


def test_deploy_json_prints_one_error_document(custom_model: Path, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "edgekit.cli.main", "deploy", "-d", "host", "--no-store", "--json",
                        "--runs", "2", str(custom_model)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == RuntimeIncompatible.exit_code == 5, r.stderr
    doc = json.loads(r.stdout)                     # stdout is exactly one JSON document
    assert doc["error"]["type"] == "RuntimeIncompatible" and doc["error"]["exit_code"] == 5
    assert "Landmarks2TransformMatrix" in doc["error"]["message"] and doc["error"]["hint"]
    assert doc["measurements"] == []
    assert "Traceback" not in r.stderr and "Landmarks2TransformMatrix" in r.stderr


def test_deploy_json_error_for_bad_input(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "edgekit.cli.main", "deploy", "-d", "no-such-device", "--json",
                        str(tmp_path / "x.tflite")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert json.loads(r.stdout)["error"]["type"] == "ConfigError"
