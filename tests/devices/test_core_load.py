"""The idle check looks at the pinned core (per-core /proc/stat deltas), not only the load average."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.devices.core_load import core_busy, parse_proc_stat, pinned_core
from edgekit.devices.profile import get_profile
from edgekit.devices.session import DeviceSession
from edgekit.devices.transports.local import LocalTransport

pytestmark = pytest.mark.timeout(120)

_SPIN = "import os, sys, time\nos.sched_setaffinity(0, {int(sys.argv[1])})\nend = time.time() + 60\nwhile time.time() < end: pass\n"


def test_proc_stat_of_this_machine_has_every_online_core() -> None:
    cores = parse_proc_stat(Path("/proc/stat").read_text())
    assert sorted(cores) == sorted(os.sched_getaffinity(0)) or set(os.sched_getaffinity(0)) <= set(cores)
    assert all(0 <= idle <= total for idle, total in cores.values())


def test_pinned_core_follows_the_runners_rule() -> None:
    facts = {"freq_khz": {"cpu0": {"max": 1800000}, "cpu1": {"max": 2400000}, "cpu2": {"max": 2400000},
                          "cpu3": {"max": 1800000}}}
    assert pinned_core("auto", facts) == 2          # fastest, highest-numbered on a tie
    assert pinned_core("80", {}) == 7               # the profile's mask
    assert pinned_core("auto", {}, online=[0, 1]) == 1  # no cpufreq: highest-numbered online core


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_a_busy_pinned_core_makes_the_device_busy_although_the_load_average_is_low() -> None:
    core = max(os.sched_getaffinity(0))
    spinner = subprocess.Popen([sys.executable, "-c", _SPIN, str(core)])
    try:
        time.sleep(0.3)
        busy = core_busy(LocalTransport(), window_s=0.5)
        assert busy[core] > 0.9, busy
        profile = dataclasses.replace(get_profile("host"), python=sys.executable, big_cores=str(core) + "-" + str(core))
        with DeviceSession(profile, serve=False) as session:
            health = session.health()
            reason = session._pinned_core_busy(timeout=10)  # independent of this shared machine's load
        assert (health.ok, health.state) == (False, "busy"), health
        assert reason is not None and f"cpu{core}" in reason and "pinned core" in reason
        if os.getloadavg()[0] < 2 * (os.cpu_count() or 1):  # the old check alone would have said "ok"
            assert health.reason == reason
    finally:
        spinner.kill()
        spinner.wait(timeout=10)
