"""Device facts, read with argv commands: this host for real, sysfs trees made in tmp_path,
and the Android parsers against ``getprop``'s real output format."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Sequence

import pytest

from edgekit.devices import facts as facts_mod
from edgekit.devices.facts import collect_facts, probe_runtime, read_temps
from edgekit.devices.profile import get_profile
from edgekit.devices.transports.base import Completed
from edgekit.devices.transports.local import LocalTransport


def test_host_facts_are_this_machine() -> None:
    profile = dataclasses.replace(get_profile("host"), python=sys.executable)
    f = collect_facts(LocalTransport(), profile)
    assert f["kernel"] == os.uname().release and f["hostname"] == os.uname().nodename
    assert f["abi"] == platform.machine() and f["cpu_count"] == os.cpu_count()
    assert f["runtime"] == "ai_edge_litert" and f["runtime_version"] == importlib.metadata.version("ai-edge-litert")
    assert f["python_version"] == platform.python_version()
    import numpy

    assert f["numpy_version"] == numpy.__version__
    assert f["cpu"] and len(f["load_avg"]) == 3
    os_release = Path("/etc/os-release")
    if os_release.exists():
        pretty = [ln.split("=", 1)[1].strip('"') for ln in os_release.read_text().splitlines()
                  if ln.startswith("PRETTY_NAME=")]
        assert f["os_build"] == pretty[0]
    for cpu, gov in f["governor"].items():                 # where the kernel exposes cpufreq, it matches
        assert Path(f"/sys/devices/system/cpu/{cpu}/cpufreq/scaling_governor").read_text().strip() == gov
    assert isinstance(f["temps_c"], dict)


def test_temperatures_from_explicit_zones(tmp_path: Path) -> None:
    zones = []
    for i, (kind, temp) in enumerate([("cpu-thermal", "48312"), ("battery", "31"), ("broken", "n/a")]):
        z = tmp_path / f"odd zone {i}"
        z.mkdir()
        (z / "type").write_text(kind + "\n")
        (z / "temp").write_text(temp + "\n")
        zones.append(str(z))
    zones.append(str(tmp_path / "missing_zone"))
    temps = read_temps(LocalTransport(), zones)
    assert temps == {"odd zone 0:cpu-thermal": 48.31, "odd zone 1:battery": 31.0}


class Scripted(LocalTransport):
    """Answers chosen argv with recorded real-format output, runs the rest for real."""

    def __init__(self, answers: dict[tuple[str, ...], str]) -> None:
        super().__init__("phone")
        self.answers = answers
        self.asked: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        key = tuple(argv)
        self.asked.append(key)
        if key in self.answers:
            return Completed(key, 0, self.answers[key], "", 0.01)
        return super().run(argv, timeout)


GETPROP = """[dalvik.vm.heapsize]: [512m]
[ro.board.platform]: [sdm845]
[ro.build.fingerprint]: [google/crosshatch/crosshatch:11/RQ3A.211001.001/7641976:user/release-keys]
[ro.build.version.release]: [11]
[ro.build.version.sdk]: [30]
[ro.hardware]: [crosshatch]
[ro.product.cpu.abi]: [arm64-v8a]
[ro.product.manufacturer]: [Google]
[ro.product.model]: [Pixel 3 XL]
"""


def test_android_facts_from_getprop() -> None:
    t = Scripted({("getprop",): GETPROP, ("uname", "-r"): "4.9.223-g4f8a5b4\n"})
    f = collect_facts(t, get_profile("pixel3xl"))
    assert f["model"] == "Pixel 3 XL" and f["soc"] == "sdm845" and f["abi"] == "arm64-v8a"
    assert f["os_build"].startswith("google/crosshatch/crosshatch:11/") and f["android_release"] == "11"
    assert f["kernel"] == "4.9.223-g4f8a5b4" and f["manufacturer"] == "Google"
    assert ("getprop",) in t.asked and not any(a[0].startswith("python") for a in t.asked)
    assert f["runtime"] == "" and f["profile"] == "pixel3xl"          # benchmark_model: from the profile


def test_runtime_probe_of_a_python_without_runtime(tmp_path: Path) -> None:
    doc = probe_runtime(LocalTransport(), "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable)
    assert "python_version" in doc
    if "runtime" not in doc:
        assert any("ai_edge_litert" in e for e in doc["errors"])
    missing = probe_runtime(LocalTransport(), str(tmp_path / "no-python"))
    assert "runtime_error" in missing and "runtime" not in missing


def test_cpuinfo_parsing_arm_and_x86() -> None:
    arm = "processor\t: 0\nBogoMIPS\t: 38.40\nCPU part\t: 0xd08\n\nprocessor\t: 1\nCPU part\t: 0xd08\n" \
          "\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"
    parsed = facts_mod._parse_cpuinfo(arm)
    assert parsed["cpu"] == "BCM2835" and parsed["cpu_count"] == 2 and parsed["hardware"] == "BCM2835"
    x86 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    assert facts_mod._parse_cpuinfo(x86) == {"cpu": "AMD EPYC 7B13", "cpu_count": 2}


def test_unreachable_device_raises_not_empty_facts() -> None:
    from edgekit.errors import DeviceUnreachable

    class Gone(LocalTransport):
        def run(self, argv: Sequence[str], timeout: float) -> Completed:
            raise DeviceUnreachable("device 'x' is unreachable", device="x")

    with pytest.raises(DeviceUnreachable):
        collect_facts(Gone("x"), get_profile("host"))
