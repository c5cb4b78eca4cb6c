"""Op-version compatibility: the table, real TF 2.21 models, and a real old runtime refusing them.

TF 2.21's dynamic-range quantization emits FULLY_CONNECTED v12 (float activations, int8
per-channel weights); the converter's own ``min_runtime_version`` metadata says 2.17.0.
The old runtime used to prove it is a real ``tflite-runtime 2.14.0`` wheel in a venv (see
``TFLITE_214_PYTHON``); those tests are skipped where it is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgekit.devices.compat import (
    check_compatible,
    core_version,
    incompatibility_from_error,
    min_runtime_for,
    parse_version,
    raise_if_incompatible,
)
from edgekit.devices.op_runtime_versions import OP_MIN_RUNTIME
from edgekit.devices.runners.script import runner_script_path
from edgekit.errors import RuntimeIncompatible
from edgekit.tflite.model_file import read_model

#: a Python with tflite-runtime 2.14.0 (the last tflite-runtime wheel) and numpy<2
TFLITE_214_PYTHON = Path(os.environ.get("EDGEKIT_TFLITE214_PYTHON",
                                        "/opt/edgekit-runtimes/tflite-runtime-2.14-py311/bin/python"))
needs_tflite_214 = pytest.mark.skipif(not TFLITE_214_PYTHON.exists(),
                                      reason=f"no tflite-runtime 2.14 venv at {TFLITE_214_PYTHON}")


@dataclass(frozen=True)
class DenseModels:
    v12: Path   # dynamic-range, per-channel dense weights (TF 2.21 default)
    v9: Path    # dynamic-range with per-channel dense quantization disabled


@pytest.fixture(scope="session")
def dense_models(tmp_path_factory: pytest.TempPathFactory) -> DenseModels:
    from edgekit.tflite.quiet import quiet_tensorflow

    folder = tmp_path_factory.mktemp("dense")
    with quiet_tensorflow():
        import tensorflow as tf

        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(32, activation="relu"),
                                     tf.keras.layers.Dense(4)])
        for name, disable in (("dense_v12.tflite", False), ("dense_v9.tflite", True)):
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv._experimental_disable_per_channel_quantization_for_dense_layers = disable
            (folder / name).write_bytes(conv.convert())
    return DenseModels(folder / "dense_v12.tflite", folder / "dense_v9.tflite")


def test_table_facts() -> None:
    assert OP_MIN_RUNTIME["FULLY_CONNECTED"][12] == "2.17.0"
    assert OP_MIN_RUNTIME["FULLY_CONNECTED"][9] == "2.3.0"
    assert OP_MIN_RUNTIME["CONV_2D"][1] == "1.5.0"
    assert min_runtime_for("FULLY_CONNECTED", 99) == ""           # newer than the table
    assert min_runtime_for("edgetpu-custom-op", 1) is None        # custom ops: not judged
    assert parse_version("2.5.0.post1") == (2, 5, 0) and parse_version("2.14") == (2, 14, 0)
    assert parse_version("junk") is None
    assert core_version("tflite_runtime", "2.14.0") == (2, 14, 0)
    assert core_version("ai_edge_litert", "1.0.1") == (2, 18, 0)
    assert core_version("ai_edge_litert", "2.3.0") == (2, 20, 0)
    assert core_version("ai_edge_litert", "0.9") is None


def test_tensorflow_221_emits_fully_connected_v12(dense_models: DenseModels) -> None:
    v12, v9 = read_model(dense_models.v12), read_model(dense_models.v9)
    assert v12.op_versions()["FULLY_CONNECTED"] == 12
    assert v9.op_versions()["FULLY_CONNECTED"] == 9
    # the converter's own metadata agrees with edgekit's table
    assert v12.min_runtime_version == "2.17.0" == OP_MIN_RUNTIME["FULLY_CONNECTED"][12]


@pytest.mark.parametrize("which", ["fp32", "int8"])
def test_table_agrees_with_tensorflow_metadata(tiny_models, which: str) -> None:  # noqa: ANN001
    mf = read_model(getattr(tiny_models, f"{which}_tflite"))
    needs = [parse_version(OP_MIN_RUNTIME[op][v]) for op, v in mf.op_versions().items()]
    assert max(n for n in needs if n) == parse_version(mf.min_runtime_version)


def test_v12_refused_on_tflite_runtime_214_with_reason_and_fix(dense_models: DenseModels) -> None:
    mf = read_model(dense_models.v12)
    problems = check_compatible(mf, "tflite_runtime", "2.14.0")
    assert [(p.op, p.version, p.needs) for p in problems] == [("FULLY_CONNECTED", 12, "2.17.0")]
    assert str(problems[0]) == "FULLY_CONNECTED v12 needs TFLite runtime >= 2.17.0; the device has tflite_runtime 2.14.0"
    with pytest.raises(RuntimeIncompatible) as info:
        raise_if_incompatible(mf, "tflite_runtime", "2.14.0", device="coral-devboard")
    assert "coral-devboard" in info.value.message and "dense_v12.tflite" in info.value.message
    assert "_experimental_disable_per_channel_quantization_for_dense_layers = True" in info.value.hint
    assert "ai-edge-litert" in info.value.hint


def test_same_model_loads_where_the_runtime_is_new_enough(dense_models: DenseModels) -> None:
    mf = read_model(dense_models.v12)
    assert check_compatible(mf, "tflite_runtime", "2.17.0") == []
    assert check_compatible(mf, "ai_edge_litert", "2.3.0") == []
    assert check_compatible(mf, "", "") == []               # unknown runtime: nothing to compare
    assert check_compatible(read_model(dense_models.v9), "tflite_runtime", "2.14.0") == []


def _run_runner(python: Path, model: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), str(runner_script_path()), "--model", str(model), "--runs", "3",
                           "--min-seconds", "0", "--warmup-runs", "1", "--warmup-seconds", "0",
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)


@needs_tflite_214
def test_real_tflite_runtime_214_cannot_load_v12(dense_models: DenseModels, tmp_path: Path) -> None:
    """The refusal is not theoretical: the real 2.14 runtime fails on exactly this op."""
    import json

    done = _run_runner(TFLITE_214_PYTHON, dense_models.v12, tmp_path)
    assert done.returncode == 3
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["status"] == "error" and doc["error_kind"] == "load-failed"
    assert doc["runtime"] == "tflite_runtime" and doc["runtime_version"] == "2.14.0"
    assert "Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'" in doc["error"]
    err = incompatibility_from_error(doc["error"], "old-board", dense_models.v12.name)
    assert isinstance(err, RuntimeIncompatible) and "2.17.0" in err.message


@needs_tflite_214
def test_real_tflite_runtime_214_runs_the_fixed_model(dense_models: DenseModels, tmp_path: Path) -> None:
    import json

    done = _run_runner(TFLITE_214_PYTHON, dense_models.v9, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["status"] == "ok" and doc["runtime_version"] == "2.14.0" and len(doc["samples_us"]) >= 3


def test_compat_module_does_not_import_tensorflow() -> None:
    code = "import sys, edgekit.devices.compat, edgekit.devices.session; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
