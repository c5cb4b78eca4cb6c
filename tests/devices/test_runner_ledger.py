"""Runners that outlive their controller's link are found in the work dir's ledger and killed,
over a real sshd (which, like adbd, leaves a command running when its connection drops)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgekit.artifact import sha256_file
from edgekit.devices.runner_ledger import read_runs_log
from edgekit.devices.session import DeviceSession
from edgekit.measurement import RunSettings
from tests.devices.conftest import SshServer
from tests.devices.test_deploy_ssh import board

pytestmark = pytest.mark.timeout(180)

LONG = RunSettings(warmup_runs=1, warmup_seconds=0, runs=5, min_seconds=60, max_seconds=90)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(what: str, check, seconds: float = 60.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def _ledger_pids(workdir: Path) -> list[int]:
    folder = workdir / "runners"
    return [int(p.name) for p in folder.iterdir()] if folder.is_dir() else []


def _measure_in_thread(session: DeviceSession, model: Path) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def go() -> None:
        try:
            out["m"] = session.measure(model, LONG)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            out["error"] = exc
    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, out


_CONTROLLER = """
import json, sys
from pathlib import Path
from edgekit.devices.profile import profile_from_dict
from edgekit.devices.session import DeviceSession
from edgekit.measurement import RunSettings
profile = profile_from_dict(json.loads(sys.argv[1]), source="test")
session = DeviceSession(profile, serve=False)
print(session.runner_token, flush=True)
session.measure(Path(sys.argv[2]), RunSettings(warmup_runs=1, warmup_seconds=0, runs=5, min_seconds=60,
                                                max_seconds=90))
"""


@pytest.mark.parametrize("at_open", [False, True], ids=["kill_runners", "farm-opening"])
def test_a_runner_left_by_a_sigkilled_controller_is_killed_when_the_device_is_taken(
        sshd: SshServer, tiny_models, tmp_path: Path, at_open: bool) -> None:  # noqa: ANN001
    profile = board(sshd, tmp_path)
    workdir = Path(profile.workdir)
    doc = {"name": "board", "kind": "board", "transport": "ssh", "python": sys.executable,
           "workdir": profile.workdir, "delegates": ["cpu"],
           "connection": {"host": sshd.host, "port": sshd.port, "user": sshd.user, "key": str(sshd.key_path),
                          "known_hosts": str(sshd.known_hosts)}}
    controller = subprocess.Popen([sys.executable, "-c", _CONTROLLER, json.dumps(doc), str(tiny_models.fp32_tflite)],
                                  stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    token = controller.stdout.readline().strip()
    (pid,) = _wait("the runner in the ledger", lambda: _ledger_pids(workdir))
    controller.send_signal(signal.SIGKILL)                    # the controller dies mid-run
    controller.wait(timeout=30)
    time.sleep(1.0)
    assert _alive(pid), "sshd killed the command: nothing to test"  # the orphan keeps measuring

    with DeviceSession(profile) as second:
        if at_open:  # a farm worker's session: its opening command reaps, before the health readings
            second.prepare_open([tiny_models.fp32_tflite], take_over=True)
            second.health()
            assert not _alive(pid)
            assert (Path(profile.workdir) / "models" / f"{sha256_file(tiny_models.fp32_tflite)}.tflite").is_file()
        else:
            assert second.kill_runners(mine=True) == []              # not its own
        assert second.kill_runners(mine=False) == [pid]              # taking the device: the orphan goes
        assert second.kill_runners(mine=False) == []                 # (reported once)
    assert not _alive(pid) and _ledger_pids(workdir) == []
    runs = read_runs_log((workdir / "runs.log").read_text())
    assert runs[pid]["token"] == token and runs[pid]["start"] < runs[pid]["end"] <= time.time()


def test_a_session_stops_its_own_run_from_another_thread(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = board(sshd, tmp_path)
    workdir = Path(profile.workdir)
    for serve in (False, True):
        with DeviceSession(profile, serve=serve) as session:
            thread, out = _measure_in_thread(session, tiny_models.fp32_tflite)
            pids = _wait("the runner in the ledger", lambda: _ledger_pids(workdir))
            _wait("the run to start", lambda: "start" in (workdir / "runs.log").read_text())
            time.sleep(0.5)
            start = time.monotonic()
            assert session.kill_runners(mine=True) == pids            # Ctrl-C / lost lease
            thread.join(timeout=60)
            assert not thread.is_alive() and time.monotonic() - start < 60, (serve, pids, out)  # not its 60 s
            assert "error" in out and "m" not in out                  # no result from a killed run
            assert not any(_alive(p) for p in pids)
    assert os.stat(workdir).st_mode & 0o777 == 0o700
