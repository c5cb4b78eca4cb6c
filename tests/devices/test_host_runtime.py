"""This host: the runner runs in edgekit's own Python with evaluate's runtime, and the
controller stays off the runner's pinned core while it measures."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from edgekit.devices.host_runtime import evaluate_runtime
from edgekit.devices.profile import get_profile
from edgekit.devices.session import DeviceSession
from edgekit.errors import RuntimeIncompatible
from edgekit.measurement import RunSettings

QUICK = RunSettings(warmup_runs=1, warmup_seconds=0, runs=20, min_seconds=0.5, max_seconds=20)


def _host(tmp_path: Path, **changes: object):  # noqa: ANN202
    return dataclasses.replace(get_profile("host"), workdir=str(tmp_path / "device"), **changes)


def test_the_host_runner_uses_this_python_not_the_first_python3_on_path(
        tiny_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    other = tmp_path / "venv-bin"
    other.mkdir()
    (other / "python3").write_text("#!/bin/sh\necho 'not the Python edgekit runs in' >&2\nexit 3\n")
    (other / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    assert get_profile("host").python == "python3"
    for serve in (False, True):
        with DeviceSession(_host(tmp_path), serve=serve) as s:
            assert s.profile.python == sys.executable
            m = s.measure(tiny_models.fp32_tflite, QUICK)
        assert m.status == "ok" and (m.facts["runtime"], m.facts["runtime_version"]) == evaluate_runtime()


def test_a_runner_python_with_another_runtime_is_refused(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    fake = tmp_path / "site" / "ai_edge_litert"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("__version__ = '0.0.1'\n")
    python = tmp_path / "other-python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={tmp_path / 'site'} exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    with DeviceSession(_host(tmp_path, python=str(python)), serve=False) as s:
        with pytest.raises(RuntimeIncompatible) as info:
            s.measure(tiny_models.fp32_tflite, QUICK)
    message = str(info.value)
    assert "0.0.1" in message and evaluate_runtime()[1] in message and str(python) in message
    assert info.value.hint and "ai-edge-litert==" in info.value.hint
    assert not (tmp_path / "device" / "results").exists() or not any((tmp_path / "device" / "results").iterdir())


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_the_controller_stays_off_the_pinned_core_while_measuring(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    before = os.sched_getaffinity(0)
    seen: list[set[int]] = []
    main_tid = threading.get_native_id()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(os.sched_getaffinity(main_tid))
            time.sleep(0.005)

    for serve in (False, True):
        seen.clear()
        stop.clear()
        with DeviceSession(_host(tmp_path), serve=serve) as s:
            s.facts()
            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                m = s.measure(tiny_models.fp32_tflite, QUICK)
            finally:
                stop.set()
                watcher.join()
        assert m.status == "ok" and m.pinned_cpu is not None
        pinned = m.pinned_cpu if isinstance(m.pinned_cpu, int) else int(str(m.pinned_cpu).split(",")[0])
        assert pinned in before                                   # the runner could still pick it
        assert any(mask == before - {pinned} for mask in seen), (pinned, seen[:3])
        assert os.sched_getaffinity(0) == before                  # given back afterwards
