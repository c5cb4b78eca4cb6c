"""Parked runners (``keep_runner_s``): edgekit's runner outlives its session, and the next
session attaches to it, with no runtime import and no 0.5 s idle window to wait for.

Real runner processes on this host (and over a real sshd in tests/farm/test_lab_parked.py):
the parked runner is found by its socket, answers the idle check from what it read while it
slept, ends when it has waited ``keep_runner_s``, is spared by a session taking the device
over, and dies with its session's relay (a dead controller) as every served runner does.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from edgekit.devices.health import check_health
from edgekit.devices.runner_ledger import read_runs_log
from edgekit.devices.session import DeviceSession
from edgekit.errors import DeviceError
from edgekit.measurement import RunSettings
from tests.devices.conftest import SshServer
from tests.devices.test_runner_ledger import _alive, _ledger_pids, _measure_in_thread, _wait
from tests.devices.test_serve_session import PY37, board, served
from tests.devices.test_session_open import _SPIN, CountingLocal, host, runner_file

pytestmark = pytest.mark.timeout(180)

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0, runs=20, min_seconds=0, max_seconds=20)


def _socket(profile: Any) -> Path:
    path = runner_file(profile)
    return path.parent.parent / "park" / (path.stem + ".sock")


def _relays(workdir: Path, parked: int) -> list[int]:
    """The sessions' relay processes: edgekit runner starts working in ``workdir``, but not ``parked``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == parked:
            continue
        try:
            if b"edgekit_runner" in (proc / "cmdline").read_bytes() and (proc / "cwd").resolve() == workdir.resolve():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _park(profile: Any, model: Path) -> int:
    """One session that measures ``model`` and leaves its runner parked; the runner's pid."""
    with DeviceSession(profile) as s:
        s.measure(model, QUICK)
        return int(served(s).hello["pid"])


def _end_parked(pid: int) -> None:
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        _wait("the parked runner to end", lambda: not _alive(pid), 10)


def test_the_next_session_attaches_to_the_parked_runner(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path, keep_runner_s=60.0)
    with DeviceSession(profile) as first:
        m1 = first.measure(tiny_models.fp32_tflite, QUICK)
        hello1 = dict(served(first).hello)
    pid = int(hello1["pid"])
    assert "parked_s" not in hello1 and "window" not in hello1        # a fresh runner: the opening took the window
    try:
        assert _socket(profile).is_socket() and _alive(pid)            # parked, not ended with its session
        time.sleep(0.6)
        transport = CountingLocal()
        with DeviceSession(profile, transport=transport) as second:
            health = check_health(second)
            opening = second._opening  # noqa: SLF001 - what the opening command read
            assert opening is not None and opening.parked and opening.busy is None
            assert transport.commands == [] and transport.streams == 1   # no separate window command
            hello2 = served(second).hello
            assert int(hello2["pid"]) == pid and hello2["attached"] == 2   # the same process, no new import
            assert hello2["parked_s"] >= 0.5 and 0.45 <= hello2["window_s"] <= 1.0
            assert health.state in ("ok", "busy")                       # judged from the parked runner's window
            m2 = second.measure(tiny_models.fp32_tflite, QUICK)
            assert second.facts()["runtime"] == "ai_edge_litert"
        assert m2.stats.count == m1.stats.count == 20 and m2.settings == m1.settings
        assert m2.runner == m1.runner and m2.runner_version == m1.runner_version
        runs = (Path(profile.workdir) / "runs.log").read_text()
        verbs = [line.split()[0] for line in runs.splitlines() if line.split()[1] == str(pid)]
        assert verbs == ["start", "attach", "park", "attach", "park"], runs
        tokens = [line.split()[2] for line in runs.splitlines() if line.startswith("attach")]
        assert len(set(tokens)) == 2                                    # each session's own token while attached
        assert _ledger_pids(Path(profile.workdir)) == [pid]             # only the parked runner is left
        assert (Path(profile.workdir) / "runners" / str(pid)).read_text().split()[1] == "parked"
    finally:
        _end_parked(pid)


def test_the_parked_runner_ends_after_keep_runner_s(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path, keep_runner_s=1.0)
    pid = _park(profile, tiny_models.fp32_tflite)
    closed = time.monotonic()
    try:
        _wait("the parked runner to end", lambda: not _alive(pid), 20)
        assert 0.9 <= time.monotonic() - closed <= 15
        assert not _socket(profile).exists() and not Path(f"{_socket(profile)}.pid").exists()
        assert _ledger_pids(Path(profile.workdir)) == []
        runs = read_runs_log((Path(profile.workdir) / "runs.log").read_text())
        assert runs[pid]["token"] != "parked" and runs[pid]["end"] is not None   # started by the session's token
    finally:
        _end_parked(pid)


def test_taking_the_device_spares_a_parked_runner_and_a_session_stops_its_own(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path, keep_runner_s=60.0)
    pid = _park(profile, tiny_models.fp32_tflite)
    try:
        with DeviceSession(profile) as taker:
            assert taker.kill_runners(mine=False) == [] and _alive(pid)     # parked: nobody's orphan
            thread, out = _measure_in_thread(taker, tiny_models.fp32_tflite)  # attaches, then measures 60 s
            _wait("the job to start", lambda: (Path(profile.workdir) / "runs.log").read_text().count("attach") == 2)
            time.sleep(0.5)
            killed = taker.kill_runners(mine=True)                          # Ctrl-C / a lost lease
            thread.join(timeout=60)
            assert pid in killed and not _alive(pid)                        # attached: it is this session's
            assert isinstance(out.get("error"), DeviceError) and "m" not in out
    finally:
        _end_parked(pid)


def test_a_dead_relay_ends_the_parked_runner_mid_job(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path, keep_runner_s=60.0)
    workdir = Path(profile.workdir)
    pid = _park(profile, tiny_models.fp32_tflite)
    try:
        with DeviceSession(profile) as s:
            thread, out = _measure_in_thread(s, tiny_models.fp32_tflite)
            _wait("the job to start", lambda: (workdir / "runs.log").read_text().count("attach") == 2)
            relays = _relays(workdir, pid)
            assert len(relays) == 1 and relays[0] not in _ledger_pids(workdir)   # a relay is not a runner
            time.sleep(0.5)
            os.kill(relays[0], signal.SIGKILL)                # the controller's end of the session is gone
            _wait("the parked runner to end with its relay", lambda: not _alive(pid), 10)
            thread.join(timeout=60)
            assert isinstance(out.get("error"), DeviceError)
    finally:
        _end_parked(pid)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_a_busy_pinned_core_is_seen_by_the_parked_runners_window(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    core = max(os.sched_getaffinity(0))
    profile = host(tmp_path, big_cores=f"{core}-{core}", keep_runner_s=60.0)
    pid = _park(profile, tiny_models.fp32_tflite)
    spinner = subprocess.Popen([sys.executable, "-c", _SPIN, str(core)])
    try:
        time.sleep(0.8)                                       # the parked runner's last 0.5 s see it spin
        with DeviceSession(profile) as s:
            health = s.health()
            assert s._opening is not None and s._opening.parked  # noqa: SLF001
            assert int(served(s).hello["pid"]) == pid
    finally:
        spinner.kill()
        spinner.wait(timeout=10)
        _end_parked(pid)
    assert (health.ok, health.state) == (False, "busy") and f"cpu{core}" in health.reason


def test_a_stale_socket_starts_a_new_runner(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path, keep_runner_s=60.0)
    pid = _park(profile, tiny_models.fp32_tflite)
    os.kill(pid, signal.SIGKILL)                              # e.g. the board's OOM killer: the socket stays
    _wait("the runner to die", lambda: not _alive(pid), 10)
    assert _socket(profile).exists()
    new = 0
    try:
        with DeviceSession(profile) as s:
            health = s.health()
            assert s._opening is not None and not s._opening.parked   # noqa: SLF001 - its pid is gone: a window
            s.measure(tiny_models.fp32_tflite, QUICK)
            new = int(served(s).hello["pid"])
        assert new != pid and _alive(new) and health.state in ("ok", "busy")
    finally:
        if new:
            _end_parked(new)


@pytest.mark.skipif(not PY37.exists(), reason=f"no Python 3.7 + tflite-runtime venv at {PY37}")
def test_a_python37_board_parks_its_runner_over_ssh(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = dataclasses.replace(board(sshd, tmp_path), python=str(PY37), keep_runner_s=60.0)
    pids, versions = [], []
    try:
        for _ in range(2):
            with DeviceSession(profile) as s:
                health = s.health()
                m = s.measure(tiny_models.int8_tflite, QUICK)
                hello = served(s).hello
                pids.append(int(hello["pid"]))
                versions.append((hello["python_version"], hello["runtime"], s._opening.parked))  # noqa: SLF001
            assert m.stats.count == 20 and m.facts["runtime"] == "tflite_runtime" and health.state in ("ok", "busy")
            time.sleep(0.6)
        assert pids[0] == pids[1]                                       # -S relay, then the same parked runner
        assert [v[0][:4] for v in versions] == ["3.7.", "3.7."] and [v[2] for v in versions] == [False, True]
    finally:
        for pid in set(pids):
            _end_parked(pid)


def test_parked_and_one_shot_medians_agree(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    """The protocol did not change: interleaved runs of a parked runner (attached anew each
    time) and of one-shot runners give the same median within noise."""
    settings = dataclasses.replace(QUICK, warmup_runs=20, warmup_seconds=0.1, runs=100, min_seconds=0.3)
    profile = host(tmp_path, keep_runner_s=60.0)
    parked: list[float] = []
    one_shot: list[float] = []
    pids = set()
    try:
        with DeviceSession(dataclasses.replace(profile, keep_runner_s=0.0), serve=False) as o:
            for _ in range(3):
                with DeviceSession(profile) as s:
                    parked.append(s.measure(tiny_models.fp32_tflite, settings).stats.median)
                    pids.add(int(served(s).hello["pid"]))
                one_shot.append(o.measure(tiny_models.fp32_tflite, settings).stats.median)
        assert len(pids) == 1                                  # one parked runner served the three sessions
        ratio = statistics.median(parked) / statistics.median(one_shot)
        assert 0.67 < ratio < 1.5, (parked, one_shot)
    finally:
        for pid in pids:
            _end_parked(pid)


def test_another_interpreter_starts_its_own_runner(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    other = Path("/opt/edgekit-runtimes/tflite-runtime-2.14-py311/bin/python")
    if not other.exists():
        other = PY37
    profile = dataclasses.replace(host(tmp_path, keep_runner_s=60.0), kind="board", name="box")
    first = _park(profile, tiny_models.fp32_tflite)
    second = 0
    try:
        with DeviceSession(dataclasses.replace(profile, python=str(other))) as s:
            s.measure(tiny_models.fp32_tflite, QUICK)
            hello = served(s).hello
            second = int(hello["pid"])
        assert second != first and Path(hello["python"]).resolve() == other.resolve()
        _wait("the first parked runner to give its socket up", lambda: not _alive(first), 10)
    finally:
        _end_parked(first)
        if second:
            _end_parked(second)
