"""The on-device runner's EdgeTPU path, run for real here where libedgetpu.so.1 is absent."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.edgetpu.compiler import edgetpu_compile

RUNNER = Path(__file__).resolve().parents[2] / "android_bench" / "edgekit_runner.py"


def _libedgetpu_present() -> bool:
    try:
        ctypes.CDLL("libedgetpu.so.1")
        return True
    except OSError:
        return False


@pytest.mark.skipif(_libedgetpu_present(), reason="libedgetpu.so.1 is installed here: this test needs it absent")
def test_delegate_load_failure_is_a_clear_json_error(tmp_path, edgetpu_models, stand_in_compiler,
                                                     stand_in_mode) -> None:
    assert RUNNER.is_file(), f"the runner is missing: {RUNNER}"
    stand_in_mode("full")
    model = edgetpu_compile(edgetpu_models.full, tmp_path, compiler=stand_in_compiler).output_path
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--model", str(model), "--delegate", "edgetpu", "--runs", "2",
         "--warmup-runs", "1", "--cpu", "none", "--thermal-zones", "none", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc == json.loads(out.read_text())
    assert doc["status"] == "error" and doc["error_kind"] == "delegate-failed"
    assert "libedgetpu.so.1" in doc["error"] and "-m" in doc["error"]
    assert doc["settings"]["delegate"] == "edgetpu"
    assert "Traceback (most recent call last)" not in proc.stdout
