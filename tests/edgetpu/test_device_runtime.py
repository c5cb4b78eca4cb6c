"""The Edge TPU runtime check uses the libedgetpu the device reports (its facts), not the
profile's constant, which is only the fallback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.devices.profile import profile_from_dict
from edgekit.devices.session import DeviceSession
from edgekit.edgetpu.runtime import device_runtime_version
from edgekit.errors import RuntimeIncompatible
from edgekit.measurement import RunSettings

REPO = Path(__file__).resolve().parents[2]


def test_the_device_word_beats_the_profile() -> None:
    said = "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted,CL_NUMBER=291256449), RuntimeVersion(13)"
    assert device_runtime_version({"edgetpu_runtime": said}, 14) == (13, "libedgetpu")
    assert device_runtime_version({"libedgetpu": "libedgetpu1-max 16.0"}, 12) == (14, "package libedgetpu1-max 16.0")
    assert device_runtime_version({"libedgetpu": "libedgetpu1-std 15.0"}, 0)[0] == 13
    assert device_runtime_version({}, 14) == (14, "profile")


@pytest.fixture
def libedgetpu_13(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in ``libedgetpu.so.1`` whose C API says RuntimeVersion(13), on LD_LIBRARY_PATH."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed (apt-get install gcc)")
    src = tmp_path / "edgetpu.c"
    src.write_text('const char* edgetpu_version(void) { return "BuildLabel(COMPILER=6.3.0,DATE=redacted,'
                   'TIME=redacted,CL_NUMBER=291256449), RuntimeVersion(13)"; }\n')
    lib = tmp_path / "lib" / "libedgetpu.so.1"
    lib.parent.mkdir()
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, timeout=60)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(lib.parent))
    return lib


def test_a_model_newer_than_the_device_libedgetpu_is_refused(libedgetpu_13: Path, tmp_path: Path,
                                                            tiny_models) -> None:  # noqa: ANN001
    out = tmp_path / "tpu"
    comp = subprocess.run([sys.executable, str(REPO / "tests/fakes/edgetpu_compiler"), "-m", "14", "-o", str(out),
                           str(tiny_models.int8_tflite)], capture_output=True, text=True, timeout=120)
    assert comp.returncode == 0, comp.stderr
    [model] = out.glob("*_edgetpu.tflite")
    # the profile claims 14 (as coral-usb.toml does); the device's library says 13
    profile = profile_from_dict({"kind": "accelerator", "transport": "local", "python": sys.executable,
                                 "delegates": ["edgetpu", "cpu"], "edgetpu_runtime_version": 14,
                                 "workdir": str(tmp_path / "work")}, source="test", name="coral")
    with DeviceSession(profile) as s:
        assert s.facts()["edgetpu_runtime"].endswith("RuntimeVersion(13)")
        with pytest.raises(RuntimeIncompatible) as info:
            s.measure(model, RunSettings(runs=2, min_seconds=0))
    assert "needs Edge TPU runtime 14" in info.value.message and "has runtime 13" in info.value.message
    assert "-m 13" in info.value.hint
    assert not (tmp_path / "work" / "models").exists() or not any((tmp_path / "work" / "models").iterdir())
