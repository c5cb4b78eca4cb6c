"""The on-device runner (android_bench/edgekit_runner.py), run as a real process on real models."""

from __future__ import annotations

import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgekit.devices.runners.script import parse_runner_json, runner_script_path, to_result
from edgekit.errors import MeasurementError

RUNNER = runner_script_path()
PY37 = Path(os.environ.get("EDGEKIT_PY37_TFLITE_PYTHON", "/opt/edgekit-runtimes/tflite-runtime-2.11-py37/bin/python"))
SHORT = ["--warmup-runs", "2", "--warmup-seconds", "0", "--runs", "5", "--min-seconds", "0"]


def run(model: Path, *args: str, python: str = sys.executable, out: Path | None = None,
        timeout: float = 120) -> tuple[int, dict[str, Any], str]:
    argv = [python, str(RUNNER), "--model", str(model), *args]
    if out is not None:
        argv += ["--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, doc, done.stderr


@pytest.mark.parametrize("which", ["fp32", "int8"])
def test_real_run_keeps_every_sample(tiny_models, tmp_path: Path, which: str) -> None:  # noqa: ANN001
    model = getattr(tiny_models, f"{which}_tflite")
    out = tmp_path / "result.json"
    rc, doc, _ = run(model, *SHORT, out=out)
    assert rc == 0 and doc["status"] == "ok"
    assert json.loads(out.read_text()) == doc                       # file and stdout agree
    assert doc["kind"] == "edgekit.run" and doc["runner_version"] == "1.0.0" and doc["schema"] == 1
    assert len(doc["samples_us"]) >= 5 and all(x > 0 for x in doc["samples_us"])
    assert len(doc["warmup_samples_us"]) >= 2
    assert doc["init_us"] > 0 and doc["first_inference_us"] > 0
    assert doc["runtime"] == "ai_edge_litert" and doc["threads"] == 1
    assert doc["inputs"][0]["dtype"] == ("int8" if which == "int8" else "float32")
    assert doc["inputs"][0]["shape"] == [1, 8, 8, 1]
    cpus = sorted(os.sched_getaffinity(0))
    assert doc["pinned_cpus"] == [max(cpus)]                         # no cpufreq here: tie -> highest index
    assert doc["pinned_cpu"] == str(max(cpus))
    assert doc["before"]["cpus"][0]["cpu"] == max(cpus) and "temps_c" in doc["after"]
    assert doc["peak_rss_kb"] > 1000 and doc["model_size_bytes"] == model.stat().st_size
    assert doc["finished_at"] >= doc["started_at"]
    result = to_result(parse_runner_json(out.read_text(), "host", str(out)))
    stats = result.stats()
    assert stats is not None and stats.count == len(doc["samples_us"])
    assert stats.median == pytest.approx(float(np.median(doc["samples_us"])))
    assert result.raw["samples_source"] == "per-run"


def test_ab_run_alternates_the_two_models_inference_by_inference(tiny_models) -> None:  # noqa: ANN001
    cand, base = tiny_models.fp32_tflite, tiny_models.int8_tflite
    rc, doc, _ = run(cand, "--baseline-model", str(base), "--warmup-runs", "3", "--warmup-seconds", "0",
                     "--runs", "7", "--min-seconds", "0")
    assert rc == 0 and doc["status"] == "ok" and doc["interleaved"] == "inference"
    b = doc["baseline"]
    # every timed pair has both models; 7 runs each (the pair order alternates A B, B A, …)
    assert len(doc["samples_us"]) == len(b["samples_us"]) == 7
    assert len(doc["warmup_samples_us"]) == len(b["warmup_samples_us"]) == 3
    assert b["model"] == str(base) and b["model_size_bytes"] == base.stat().st_size
    assert b["init_us"] > 0 and b["first_inference_us"] > 0 and b["inputs"][0]["dtype"] == "int8"
    assert doc["inputs"][0]["dtype"] == "float32" and doc["model"] == str(cand)
    result = to_result(doc)
    assert result.raw["baseline"]["samples_us"] == b["samples_us"] and result.raw["interleaved"] == "inference"
    plain = to_result(run(cand, *SHORT)[1])
    assert "baseline" not in plain.raw and "interleaved" not in plain.raw
    rc, doc, _ = run(cand, "--baseline-model", "/nonexistent.tflite", *SHORT)
    assert rc == 2 and doc["error_kind"] == "model-missing" and "baseline model" in doc["error"]


def test_both_minimums_are_met_and_max_seconds_stops(tiny_models) -> None:  # noqa: ANN001
    rc, doc, _ = run(tiny_models.fp32_tflite, "--warmup-runs", "0", "--warmup-seconds", "0.1",
                     "--runs", "1", "--min-seconds", "0.2")
    assert rc == 0 and doc["stopped_by"] == "runs"
    assert len(doc["samples_us"]) > 1                               # 1 run is not 0.2 s of runs
    assert sum(doc["samples_us"]) <= (doc["finished_at"] - doc["started_at"]) * 1e6
    assert len(doc["warmup_samples_us"]) > 1
    rc, doc, _ = run(tiny_models.fp32_tflite, "--warmup-runs", "0", "--warmup-seconds", "0",
                     "--runs", "1000000000", "--min-seconds", "0", "--max-seconds", "0.3")
    assert rc == 0 and doc["stopped_by"] == "max_seconds" and 0 < len(doc["samples_us"]) < 1000000000


def test_unpinned_and_explicit_cpu(tiny_models) -> None:  # noqa: ANN001
    rc, doc, _ = run(tiny_models.fp32_tflite, *SHORT, "--cpu", "none")
    assert rc == 0 and doc["pinned_cpu"] is None
    rc, doc, _ = run(tiny_models.fp32_tflite, *SHORT, "--cpu", "0")
    assert rc == 0 and doc["pinned_cpus"] == [0]


@pytest.mark.parametrize("args, kind, code, text", [
    (["--cpu", "999"], "bad-args", 2, "not available"),
    (["--delegate", "/nonexistent/libnothing.so"], "delegate-failed", 3, "libnothing.so"),
    (["--delegate", "edgetpu"], "delegate-failed", 3, "libedgetpu.so.1"),
    (["--runtime", "nosuch"], "bad-args", 2, "--runtime"),
])
def test_errors_are_one_json_document(tiny_models, tmp_path: Path, args: list[str], kind: str, code: int,
                                      text: str) -> None:  # noqa: ANN001
    out = tmp_path / "r.json"
    rc, doc, stderr = run(tiny_models.fp32_tflite, *SHORT, *args, out=out)
    assert rc == code and doc["status"] == "error" and doc["error_kind"] == kind
    assert text in doc["error"] and "Traceback" not in stderr
    assert json.loads(out.read_text()) == doc


def test_missing_and_corrupt_models(tmp_path: Path) -> None:
    rc, doc, _ = run(tmp_path / "nope.tflite")
    assert rc == 2 and doc["error_kind"] == "model-missing" and "nope.tflite" in doc["error"]
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(os.urandom(2048))
    rc, doc, stderr = run(junk, *SHORT)
    assert rc == 3 and doc["error_kind"] == "load-failed" and "junk.tflite" in doc["error"]
    assert "Traceback" not in stderr


def test_corrupt_result_is_a_measurement_error() -> None:
    with pytest.raises(MeasurementError) as info:
        parse_runner_json('{"schema": 1, "kind": "edgekit.run", "status": "ok", "samp', "rpi4", "/tmp/x/r.json")
    assert "rpi4" in info.value.message and "/tmp/x/r.json" in info.value.message and "corrupt" in info.value.message
    with pytest.raises(MeasurementError):
        parse_runner_json('{"kind": "edgekit.run", "status": "ok", "samples_us": []}', "rpi4", "r.json")
    with pytest.raises(MeasurementError):
        parse_runner_json('[1, 2]', "rpi4", "r.json")


@pytest.mark.parametrize("version", ["3.6.15", "3.7.16"])
def test_runner_compiles_on_old_board_pythons(version: str, tmp_path: Path) -> None:
    python = Path.home() / ".pyenv" / "versions" / version / "bin" / "python"
    if not python.exists():
        pytest.skip(f"Python {version} not installed (pyenv)")
    done = subprocess.run([str(python), "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], "
                           "cfile=sys.argv[2], doraise=True)", str(RUNNER), str(tmp_path / "r.pyc")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    py_compile.compile(str(RUNNER), cfile=str(tmp_path / "r311.pyc"), doraise=True)


@pytest.mark.skipif(not PY37.exists(), reason=f"no Python 3.7 + tflite-runtime venv at {PY37}")
def test_runner_on_python37_with_tflite_runtime(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    """As on a Coral Dev Board: Python 3.7, numpy 1.21, tflite_runtime (no ai_edge_litert)."""
    out = tmp_path / "r.json"
    rc, doc, _ = run(tiny_models.int8_tflite, *SHORT, python=str(PY37), out=out)
    assert rc == 0, doc
    assert doc["python_version"].startswith("3.7.") and doc["runtime"] == "tflite_runtime"
    assert doc["runtime_version"] == "2.11.0" and len(doc["samples_us"]) >= 5
