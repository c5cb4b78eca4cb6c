"""Serve mode: one runner process per device session, a job line in, a result line out.

Real runner processes on this host and through a real sshd on loopback; the stream is cut
for real (the runner's process killed, the SSH connection dropped) and the job must fail
with a DeviceError while the next one starts a fresh runner.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edgekit.devices.profile import DeviceProfile, get_profile, profile_from_dict
from edgekit.devices.runners.script import runner_script_path
from edgekit.devices.serve_session import ServedScriptRunner, job_line
from edgekit.devices.session import DeviceSession
from edgekit.devices.transports.line_stream import StreamClosed
from edgekit.devices.transports.local import LocalTransport
from edgekit.devices.transports.ssh import SshTransport
from edgekit.errors import DeviceError, DeviceTimeout, MeasurementError
from edgekit.measurement import RunSettings
from tests.devices.conftest import SshServer

pytestmark = pytest.mark.timeout(300)

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0, runs=5, min_seconds=0, max_seconds=20)
RUNNER = runner_script_path()
PY37 = Path(os.environ.get("EDGEKIT_PY37_TFLITE_PYTHON", "/opt/edgekit-runtimes/tflite-runtime-2.11-py37/bin/python"))


def host(tmp_path: Path) -> DeviceProfile:
    return dataclasses.replace(get_profile("host"), workdir=str(tmp_path / "device"))


def board(server: SshServer, tmp_path: Path) -> DeviceProfile:
    return profile_from_dict({
        "name": "board", "kind": "board", "transport": "ssh", "python": sys.executable,
        "workdir": str(tmp_path / "board"), "delegates": ["cpu"],
        "connection": {"host": server.host, "port": server.port, "user": server.user,
                       "key": str(server.key_path), "known_hosts": str(server.known_hosts)},
    }, source="test")


def served(session: DeviceSession) -> ServedScriptRunner:
    runner = session.runner()
    assert isinstance(runner, ServedScriptRunner)
    return runner


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def wait_dead(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# -- the runner's serve mode itself ------------------------------------------------------------

def test_runner_serves_jobs_and_errors_never_end_it(tiny_models) -> None:  # noqa: ANN001
    model = str(tiny_models.fp32_tflite)
    settings = {"warmup_runs": 1, "warmup_seconds": 0, "runs": 3, "min_seconds": 0}
    lines = [job_line("a", model, {k: str(v) for k, v in settings.items()}),
             "this is not JSON",
             json.dumps({"id": "b", "model": model, "settings": {"runs": "many"}}),
             json.dumps({"id": "c", "model": "/no/such/model.tflite"}),
             json.dumps({"id": "d", "settings": {}}),
             json.dumps({"id": "e", "model": model, "settings": {**settings, "cpu": "0"}}),
             json.dumps({"id": "f", "model": model, "settings": settings})]
    done = subprocess.run([sys.executable, str(RUNNER), "--serve"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr                        # EOF ended it, cleanly
    hello, *docs = [json.loads(x) for x in done.stdout.splitlines()]
    assert hello["kind"] == "edgekit.serve" and hello["status"] == "ready"
    assert hello["runtime"] == "ai_edge_litert" and hello["numpy_version"]
    assert [d.get("id") for d in docs] == ["a", None, "b", "c", "d", "e", "f"]
    assert [d["status"] for d in docs] == ["ok", "error", "error", "error", "error", "ok", "ok"]
    assert [d.get("error_kind") for d in docs[1:5]] == ["bad-job", "bad-args", "model-missing", "bad-job"]
    assert "--runs" in docs[2]["error"] and "many" in docs[2]["error"]
    assert all(d["kind"] == "edgekit.run" for d in docs)
    assert len(docs[0]["samples_us"]) >= 3 and docs[0]["settings"]["runs"] == 3
    # a job's pinning does not narrow the next job's choice
    assert docs[5]["pinned_cpus"] == [0] and docs[6]["pinned_cpus"] == [max(os.sched_getaffinity(0))]


@pytest.mark.skipif(not PY37.exists(), reason=f"no Python 3.7 + tflite-runtime venv at {PY37}")
def test_runner_serves_on_python37_with_tflite_runtime(tiny_models) -> None:  # noqa: ANN001
    lines = [json.dumps({"id": i, "model": str(tiny_models.int8_tflite),
                         "settings": {"warmup_runs": 1, "warmup_seconds": 0, "runs": 4, "min_seconds": 0}})
             for i in (1, 2)]
    lines.insert(1, "{broken")
    done = subprocess.run([str(PY37), str(RUNNER), "--serve"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    hello, *docs = [json.loads(x) for x in done.stdout.splitlines()]
    assert hello["python_version"].startswith("3.7.") and hello["runtime"] == "tflite_runtime"
    assert [d["status"] for d in docs] == ["ok", "error", "ok"] and [d.get("id") for d in docs] == [1, None, 2]
    assert docs[0]["runtime"] == "tflite_runtime" and len(docs[2]["samples_us"]) >= 4


# -- line streams ----------------------------------------------------------------------------

def test_ssh_stream_lines_timeout_and_close(sshd: SshServer) -> None:
    transport = SshTransport("board", sshd.host, sshd.user, sshd.port, key_path=sshd.key_path,
                             known_hosts=sshd.known_hosts)
    with transport:
        stream = transport.open_stream(["sh", "-c", "echo started >&2; while read x; do echo \"got $x\"; done"])
        stream.write_line("one")
        stream.write_line("two words")
        assert stream.read_line(10) == "got one" and stream.read_line(10) == "got two words"
        with pytest.raises(DeviceTimeout):
            stream.read_line(0.3)                                       # nothing more: times out, stays open
        stream.write_line("three")
        assert stream.read_line(10) == "got three"
        assert "started" in stream.stderr_tail and "__EDGEKIT_PID" not in stream.stderr_tail
        assert stream.close() == 0                                      # EOF on stdin ended the loop
        with pytest.raises(StreamClosed):
            stream.write_line("four")


def test_local_stream_kill_takes_the_process_group(tmp_path: Path) -> None:
    stream = LocalTransport("host").open_stream(["sh", "-c", "sleep 600 & echo $!; wait"])
    child = int(stream.read_line(10))
    assert alive(child)
    stream.kill()
    assert wait_dead(child) and not stream.alive


# -- DeviceSession in serve mode ---------------------------------------------------------------

def test_local_session_runs_every_job_in_one_runner(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path)
    with DeviceSession(profile) as s:
        ms = [s.measure(m, QUICK) for m in (tiny_models.fp32_tflite, tiny_models.int8_tflite, tiny_models.fp32_tflite)]
        runner = served(s)
        pid = runner.hello["pid"]
        assert runner.started == 1 and alive(pid)
        assert s.facts()["runtime"] == "ai_edge_litert" and s.facts()["python_version"]
    assert all(m.status == "ok" and m.stats is not None and m.stats.count >= 5 for m in ms)
    assert ms[0].raw["python"] and ms[0].raw["hostname"]
    assert wait_dead(pid)                                               # the session's end ended the runner
    assert list((Path(profile.workdir) / "results").iterdir()) == []    # nothing written, nothing to remove
    assert len(list((Path(profile.workdir) / "models").iterdir())) == 2


def test_error_job_then_good_job_over_ssh(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    bad = dataclasses.replace(QUICK, delegate=str(tmp_path / "libmissing_delegate.so"))
    with DeviceSession(board(sshd, tmp_path)) as s:
        with pytest.raises(MeasurementError) as info:
            s.measure(tiny_models.fp32_tflite, bad)
        assert "delegate-failed" in info.value.message and "device 'board'" in info.value.message
        m = s.measure(tiny_models.fp32_tflite, QUICK)
        m2 = s.measure(tiny_models.int8_tflite, QUICK)
        assert m.status == "ok" and m2.status == "ok" and served(s).started == 1
        assert m.raw["hostname"] and m.facts["runtime"] == "ai_edge_litert"


def _measure_in_thread(session: DeviceSession, model: Path, settings: RunSettings) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["m"] = session.measure(model, settings)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc
    box["thread"] = threading.Thread(target=work, daemon=True)
    box["thread"].start()
    return box


def _runner_busy(pid: int, seconds: float = 30.0) -> None:
    """Wait until the runner process uses CPU (it is inside a job)."""
    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    start, deadline = ticks(), time.monotonic() + seconds
    while ticks() - start < 20 and time.monotonic() < deadline:
        time.sleep(0.05)


LONG = dataclasses.replace(QUICK, runs=10, min_seconds=30.0, max_seconds=60.0)


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_runner_killed_mid_job_fails_cleanly_and_restarts(where: str, request: pytest.FixtureRequest,
                                                          tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path) if where == "local" else board(request.getfixturevalue("sshd"), tmp_path)
    with DeviceSession(profile) as s:
        s.measure(tiny_models.fp32_tflite, QUICK)
        pid = served(s).hello["pid"]
        box = _measure_in_thread(s, tiny_models.fp32_tflite, LONG)
        _runner_busy(pid)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)                                    # the runner dies mid-job
        box["thread"].join(30)
        assert time.monotonic() - t0 < 10
        error = box.get("error")
        assert isinstance(error, DeviceError) and not isinstance(error, DeviceTimeout), box
        assert "device" in error.message and error.device == profile.name
        m = s.measure(tiny_models.fp32_tflite, QUICK)                   # the next job restarts the runner
        assert m.status == "ok" and served(s).started == 2 and served(s).hello["pid"] != pid


def test_dropped_ssh_link_mid_job_fails_cleanly_and_the_runner_dies(sshd: SshServer, tiny_models,
                                                                    tmp_path: Path) -> None:  # noqa: ANN001
    with DeviceSession(board(sshd, tmp_path)) as s:
        s.measure(tiny_models.fp32_tflite, QUICK)
        pid = served(s).hello["pid"]
        box = _measure_in_thread(s, tiny_models.fp32_tflite, LONG)
        _runner_busy(pid)
        sshd.kill_sessions()                                            # the link drops (sshd's session processes die)
        box["thread"].join(30)
        error = box.get("error")
        assert isinstance(error, DeviceError), box
        assert wait_dead(pid)                                           # nobody can read its result: it exits
        m = s.measure(tiny_models.fp32_tflite, QUICK)                   # reconnects, new runner
        assert m.status == "ok" and served(s).started == 2


def test_closing_the_ssh_channel_ends_the_runner_mid_job(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    transport = SshTransport("board", sshd.host, sshd.user, sshd.port, key_path=sshd.key_path,
                             known_hosts=sshd.known_hosts)
    with transport:
        stream = transport.open_stream([sys.executable, str(RUNNER), "--serve"])
        hello = json.loads(stream.read_line(60))
        stream.write_line(job_line("1", str(tiny_models.fp32_tflite), {"runs": "10", "min_seconds": "60"}))
        _runner_busy(hello["pid"])
        stream.channel.close()                                          # only the channel: no kill by pid
        assert wait_dead(hello["pid"])                                  # the runner noticed its reader is gone


def test_serve_and_one_shot_medians_agree(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    """The protocol did not change: interleaved runs of both modes give the same median within noise."""
    settings = dataclasses.replace(QUICK, warmup_runs=20, warmup_seconds=0.2, runs=200, min_seconds=0.5)
    profile = host(tmp_path)
    serve: list[float] = []
    one_shot: list[float] = []
    with DeviceSession(profile) as s, DeviceSession(profile, serve=False) as o:
        for _ in range(4):
            for session, into in ((s, serve), (o, one_shot)):
                m = session.measure(tiny_models.fp32_tflite, settings)
                assert m.stats is not None
                into.append(m.stats.median)
        assert served(s).started == 1
    ratio = statistics.median(serve) / statistics.median(one_shot)
    assert 0.67 < ratio < 1.5, (serve, one_shot)


def test_processes_left_behind_by_none(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    with DeviceSession(board(sshd, tmp_path)) as s:
        s.measure(tiny_models.int8_tflite, QUICK)
        pid = served(s).hello["pid"]
        assert alive(pid)
    assert wait_dead(pid)                                               # the session's end ended the runner


def test_adb_server_stream_serves_the_runner(adb_server, fake_adbd, tiny_models) -> None:  # noqa: ANN001
    """A shell v2 stream through a real adb server to the fake adbd (which runs commands on this host)."""
    from edgekit.devices.transports.adb_server import AdbServerTransport

    transport = AdbServerTransport("pixel", fake_adbd.serial, server_port=adb_server.port, connect_timeout=10)
    with transport:
        echo = transport.open_stream(["sh", "-c", "echo hi >&2; while read x; do echo \"got $x\"; done; exit 3"])
        echo.write_line("one")
        assert echo.read_line(20) == "got one"
        with pytest.raises(DeviceTimeout):
            echo.read_line(0.3)
        assert "hi" in echo.stderr_tail and "__EDGEKIT_PID" not in echo.stderr_tail
        assert echo.close() == 3                                        # EOF on stdin, then its exit code
        runner = transport.open_stream([sys.executable, str(RUNNER), "--serve"])
        hello = json.loads(runner.read_line(60))
        assert hello["kind"] == "edgekit.serve"
        for job in ("1", "2"):
            runner.write_line(job_line(job, str(tiny_models.int8_tflite), {"runs": "3", "min_seconds": "0",
                                                                            "warmup_runs": "1"}))
            doc = json.loads(runner.read_line(60))
            assert doc["id"] == job and doc["status"] == "ok" and len(doc["samples_us"]) >= 3
        runner.kill()
        assert wait_dead(hello["pid"])


def test_runner_killed_between_jobs_is_replaced_without_failing_a_job(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    with DeviceSession(host(tmp_path)) as s:
        s.measure(tiny_models.fp32_tflite, QUICK)
        pid = served(s).hello["pid"]
        os.killpg(os.getpgid(pid), signal.SIGKILL)                      # as a session reclaiming the device does
        assert wait_dead(pid)
        time.sleep(0.5)  # the leader is a zombie before its other threads have released stdout
        m = s.measure(tiny_models.fp32_tflite, QUICK)                   # noticed before the job was sent
        assert m.status == "ok" and served(s).started == 2


def test_python_that_does_not_exist_is_a_clear_runtime_error(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = dataclasses.replace(host(tmp_path), python=str(tmp_path / "no-such-python"))
    with DeviceSession(profile) as s:
        with pytest.raises(MeasurementError) as info:
            s.measure(tiny_models.fp32_tflite, QUICK)
    assert "imports no TFLite runtime" in info.value.message and "could not start the runner" in info.value.message
