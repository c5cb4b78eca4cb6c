"""Opening a session in one device command (edgekit.devices.session_open): same facts and
health readings as the step-by-step way, a private work dir, the runner's bytes checked,
and far fewer round trips."""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import pytest

from edgekit.artifact import sha256_file
from edgekit.devices.facts import collect_facts
from edgekit.devices.profile import DeviceProfile, get_profile
from edgekit.devices.runners.script import runner_script_path
from edgekit.devices.session import DeviceSession
from edgekit.devices.transports.base import Completed
from edgekit.devices.transports.line_stream import LineStream
from edgekit.devices.transports.local import LocalTransport
from edgekit.devices.transports.ssh import SshTransport
from edgekit.errors import DeviceError
from edgekit.measurement import RunSettings
from tests.devices.conftest import SshServer
from tests.devices.test_serve_session import board, served

QUICK = RunSettings(warmup_runs=2, warmup_seconds=0, runs=5, min_seconds=0, max_seconds=20)
#: facts that change from one reading to the next
VOLATILE = {"temps_c", "load_avg", "freq_khz"}


def host(tmp_path: Path, **changes: Any) -> DeviceProfile:
    changes.setdefault("workdir", str(tmp_path / "device"))
    return dataclasses.replace(get_profile("host"), python=sys.executable, **changes)


class CountingLocal(LocalTransport):
    """This host, counting every device command and stream it is asked for."""

    def __init__(self) -> None:
        super().__init__("host")
        self.commands: list[tuple[str, ...]] = []
        self.streams = 0

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        self.commands.append(tuple(str(a) for a in argv))
        return super().run(argv, timeout)

    def open_stream(self, argv: Sequence[str]) -> LineStream:
        self.streams += 1
        return super().open_stream(argv)


def runner_file(profile: DeviceProfile) -> Path:
    return Path(profile.workdir) / "bin" / f"edgekit_runner-{sha256_file(runner_script_path())[:12]}.py"


def test_the_first_health_check_and_facts_are_one_device_command(tmp_path: Path) -> None:
    profile = host(tmp_path)
    transport = CountingLocal()
    with DeviceSession(profile, transport=transport) as s:
        health = s.health()
        assert (transport.streams, transport.commands) == (1, [])      # health, work dir, facts, runner start
        facts = s.facts()
        assert (transport.streams, transport.commands) == (1, [])
        assert served(s).started == 1 and facts["runtime"] == "ai_edge_litert"
    assert health.load_avg is not None and isinstance(health.temps_c, dict)
    root = Path(profile.workdir)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700 and {p.name for p in root.iterdir()} >= {"models", "bin"}
    assert runner_file(profile).read_bytes() == runner_script_path().read_bytes()  # sent, checked, saved


def test_opening_facts_equal_the_step_by_step_facts_over_ssh(sshd: SshServer, tmp_path: Path) -> None:
    profile = board(sshd, tmp_path)
    with DeviceSession(profile) as s:
        opened = s.facts()
        assert served(s).started == 1
        steps = collect_facts(s.transport, s.profile, runtime_probe=True)
    assert set(opened) >= set(steps) - {"errors"}
    for key in set(steps) - VOLATILE - {"errors"}:
        assert opened.get(key) == steps[key], key
    assert set(opened["freq_khz"]) == set(steps["freq_khz"]) and set(opened["temps_c"]) == set(steps["temps_c"])
    assert opened["governor"] == steps["governor"] and opened["cpu_count"] == steps["cpu_count"]


def test_explicit_thermal_zones_with_odd_names_are_read_as_before(tmp_path: Path) -> None:
    zone = tmp_path / "zone with 'quotes' and $(spaces)"
    zone.mkdir()
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("41500\n")
    profile = host(tmp_path, thermal_zones=(str(zone),))
    with DeviceSession(profile) as s:
        health = s.health()
        facts = s.facts()
    assert health.temps_c == facts["temps_c"] == {f"{zone.name}:cpu-thermal": 41.5}


_SPIN = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_a_busy_pinned_core_is_seen_by_the_opening_window(tmp_path: Path) -> None:
    core = max(os.sched_getaffinity(0))
    spinner = subprocess.Popen([sys.executable, "-c", _SPIN, str(core)])
    try:
        time.sleep(0.3)
        with DeviceSession(host(tmp_path, big_cores=f"{core}-{core}")) as s:
            health = s.health()
            opening = s._opening  # noqa: SLF001 - the window's reading
            assert opening is not None and opening.busy[core] > 0.9, opening.busy
            reason = s._pinned_core_busy(10.0, opening)  # independent of this shared machine's load average
    finally:
        spinner.kill()
        spinner.wait(timeout=10)
    assert (health.ok, health.state) == (False, "busy")
    assert reason is not None and f"cpu{core}" in reason and "pinned core" in reason


def test_a_damaged_runner_file_is_replaced_before_it_could_run(tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    profile = host(tmp_path)
    marker = tmp_path / "damaged-code-ran"
    target = runner_file(profile)
    target.parent.mkdir(parents=True)
    os.chmod(tmp_path / "device", 0o700)
    target.write_text(f"open({str(marker)!r}, 'w').write('x')\n" + runner_script_path().read_text())
    with DeviceSession(profile) as s:
        m = s.measure(tiny_models.fp32_tflite, QUICK)
    assert m.status == "ok" and not marker.exists()
    assert target.read_bytes() == runner_script_path().read_bytes()


def test_a_refused_work_dir_is_reported_as_before(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "elsewhere").mkdir()
    os.symlink(shared / "elsewhere", shared / "planted")
    profile = host(tmp_path, workdir=str(shared / "planted"))
    with DeviceSession(profile) as s:
        with pytest.raises(DeviceError) as info:
            s.facts()
    assert "symlink" in str(info.value) and "planted" in str(info.value)


def test_a_board_session_opens_in_few_channels(sshd: SshServer, tiny_models, tmp_path: Path) -> None:  # noqa: ANN001
    calls: list[str] = []
    run, stream = SshTransport.run, SshTransport.open_stream

    def counted_run(self: SshTransport, argv: Sequence[str], timeout: float) -> Completed:
        calls.append(str(argv[0]))
        return run(self, argv, timeout)

    def counted_stream(self: SshTransport, argv: Sequence[str]) -> LineStream:
        calls.append("stream")
        return stream(self, argv)

    SshTransport.run, SshTransport.open_stream = counted_run, counted_stream  # type: ignore[method-assign]
    try:
        with DeviceSession(board(sshd, tmp_path)) as s:
            health = s.health()
            assert health.ok or health.state == "busy", health
            s.kill_runners(mine=False)
            m = s.measure(tiny_models.fp32_tflite, QUICK)
    finally:
        SshTransport.run, SshTransport.open_stream = run, stream  # type: ignore[method-assign]
    assert m.status == "ok"
    # one opening stream; the take-over clean-up; the model's check, rename and check
    assert calls[:2] == ["stream", "sh"] and calls.count("stream") == 1, calls
    assert len(calls) <= 6, calls
