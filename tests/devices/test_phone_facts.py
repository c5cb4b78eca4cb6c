"""Phones record per run what boards record (governor, frequencies of the pinned cores,
temperatures before and after, throttling), and cool down until back near idle temperature."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from edgekit.devices.cooldown import ZoneLimit, cool_down, over_limit, parse_zone_limits
from edgekit.devices.phone_facts import read_run_state, throttled
from edgekit.devices.profile import PHONE_COOLDOWN_ZONES, profile_from_dict
from edgekit.devices.session import DeviceSession
from edgekit.devices.transports.local import LocalTransport
from edgekit.errors import ConfigError
from edgekit.measurement import RunSettings
from tests.devices.conftest import fake_adbd  # noqa: F401 - fixture
from tests.devices.test_deploy_adb import phone
from tests.fakes.fake_adbd import FakeAdbd
from tests.fakes.fake_benchmark_model import write_fake

QUICK = RunSettings(warmup_runs=1, warmup_seconds=0, runs=5, min_seconds=0, max_seconds=20)


def sysfs(root: Path, cpus: dict[int, tuple[str, int, int, int]], zones: dict[str, tuple[str, int]]) -> None:
    """A sysfs tree: cpuN/cpufreq (governor, cur, cpuinfo max, scaling max) and thermal zones."""
    for cpu, (gov, cur, top, cap) in cpus.items():
        d = root / "cpu" / f"cpu{cpu}" / "cpufreq"
        d.mkdir(parents=True, exist_ok=True)
        for leaf, value in (("scaling_governor", gov), ("scaling_cur_freq", cur), ("cpuinfo_max_freq", top),
                            ("scaling_max_freq", cap)):
            (d / leaf).write_text(f"{value}\n")
    for name, (kind, milli_c) in zones.items():
        z = root / "thermal" / name
        z.mkdir(parents=True, exist_ok=True)
        (z / "type").write_text(kind + "\n")
        (z / "temp").write_text(f"{milli_c}\n")


def test_run_state_reads_the_pinned_cores_and_named_zones(tmp_path: Path) -> None:
    sysfs(tmp_path, {4: ("schedutil", 1800000, 2803200, 2803200), 5: ("schedutil", 900000, 2803200, 2803200)},
          {"thermal_zone0": ("cpu-1-0-usr", 41500), "thermal_zone9": ("battery", 30100)})
    state = read_run_state(LocalTransport(), [4], [str(tmp_path / "thermal" / "thermal_zone0")],
                           cpu_dir=str(tmp_path / "cpu"))
    assert state["cpus"] == [{"cpu": 4, "governor": "schedutil", "cur_freq_khz": 1800000,
                              "max_freq_khz": 2803200, "scaling_max_freq_khz": 2803200}]
    assert state["temps_c"] == {"thermal_zone0:cpu-1-0-usr": 41.5}


def test_throttling_is_a_frequency_drop_on_a_pinned_core() -> None:
    def st(gov: str, cur: int, cap: int) -> dict:
        return {"cpus": [{"cpu": 4, "governor": gov, "cur_freq_khz": cur, "max_freq_khz": 2800, "scaling_max_freq_khz": cap}]}

    assert not throttled(st("performance", 2800, 2800), st("performance", 2800, 2800))
    assert throttled(st("performance", 2800, 2800), st("performance", 2100, 2800))   # cur < max, performance
    assert throttled(st("schedutil", 2800, 2800), st("schedutil", 1200, 2100))       # the cap came down
    assert not throttled(st("schedutil", 2800, 2800), st("schedutil", 1200, 2800))   # idle after the run
    assert not throttled({"cpus": []}, {"cpus": []})


def test_phone_run_records_temperatures_per_run_and_heating(fake_adbd: FakeAdbd, tiny_models,  # noqa: F811
                                                            tmp_path: Path) -> None:  # noqa: ANN001
    sysfs(tmp_path, {}, {"thermal_zone1": ("cpu-1-0-usr", 36000)})
    zone = tmp_path / "thermal" / "thermal_zone1"
    import dataclasses

    profile = dataclasses.replace(phone(fake_adbd, tmp_path, runner="benchmark_model",
                                        binary=write_fake(tmp_path / "bin", "new"), big_cores="1"),
                                  thermal_zones=(str(zone),), cooldown_max_seconds=0.0)
    with DeviceSession(profile) as s:
        m = s.measure(tiny_models.fp32_tflite, QUICK)
    assert m.facts["temps_before_c"] == {"thermal_zone1:cpu-1-0-usr": 36.0} == m.facts["temps_after_c"]
    assert m.raw["before"]["temps_c"] == {"thermal_zone1:cpu-1-0-usr": 36.0}
    assert [c["cpu"] for c in m.raw["before"]["cpus"]] == [0] and "throttled" not in m.flags


def test_cool_down_waits_until_the_named_zones_are_back_near_idle(fake_adbd: FakeAdbd, tiny_models,  # noqa: F811
                                                                   tmp_path: Path) -> None:  # noqa: ANN001
    sysfs(tmp_path, {}, {"thermal_zone0": ("cpu-1-0-usr", 55000), "thermal_zone7": ("battery", 60000)})
    zones = [str(tmp_path / "thermal" / z) for z in ("thermal_zone0", "thermal_zone7")]
    import dataclasses

    profile = dataclasses.replace(phone(fake_adbd, tmp_path, runner="benchmark_model",
                                        binary=write_fake(tmp_path / "bin", "new"), big_cores="1"),
                                  thermal_zones=tuple(zones), cooldown_zones=("cpu*=40",), cooldown_max_seconds=20.0)

    def cool() -> None:
        time.sleep(2.5)
        (Path(zones[0]) / "temp").write_text("39000\n")     # the CPU zone cools; the battery stays hot

    with DeviceSession(profile) as s:
        s.facts()                                            # connected: what follows is push + cool-down
        t = threading.Thread(target=cool)
        t.start()
        m = s.measure(tiny_models.fp32_tflite, QUICK)
    t.join()
    cd = m.raw["cooldown"]
    assert cd["cooled"] and 1.0 <= cd["waited_s"] < 10.0 and cd["temps_c"]["thermal_zone0:cpu-1-0-usr"] == 39.0
    assert m.facts["temps_before_c"]["thermal_zone0:cpu-1-0-usr"] == 39.0


def test_cool_down_is_bounded_and_ignores_other_zones() -> None:
    limits = parse_zone_limits(["cpu*=40", "soc*=42.5"], "test")
    assert limits == (ZoneLimit("cpu*", 40.0), ZoneLimit("soc*", 42.5))
    assert over_limit({"tz0:cpu-0": 41.0, "tz1:battery": 70.0, "tz2:soc": 42.0}, limits) == {"tz0:cpu-0": 1.0}
    now = [0.0]
    res = cool_down(lambda: {"tz0:cpu-0": 50.0}, limits, 5.0, "phone", sleep=lambda s: now.__setitem__(0, now[0] + s),
                    clock=lambda: now[0])
    assert res is not None and not res.cooled and res.waited_s == 5.0
    assert cool_down(lambda: {}, limits, 0.0, "phone") is None
    with pytest.raises(ConfigError, match="PATTERN"):
        parse_zone_limits(["cpu40"], "test")


def test_phones_cool_down_by_default_and_profiles_check_the_fields() -> None:
    p = profile_from_dict({"kind": "phone", "transport": "adb", "runner": "benchmark_model",
                           "workdir": "/data/local/tmp/x"}, source="t", name="p")
    assert p.cooldown_max_seconds > 0 and p.cooldown_zones == PHONE_COOLDOWN_ZONES
    b = profile_from_dict({"kind": "board", "transport": "local", "workdir": "/tmp/x"}, source="t", name="b")
    assert b.cooldown_max_seconds == 0
    with pytest.raises(ConfigError, match="cooldown_zones"):
        profile_from_dict({"kind": "phone", "cooldown_zones": ["battery"], "workdir": "/tmp/x"}, source="t", name="p")


def versioned_binary(folder: Path, version: str) -> Path:
    """The stand-in benchmark_model behind a wrapper whose ``--version`` names its TFLite release."""
    fake = write_fake(folder / "real", "new")
    wrapper = folder / "benchmark_model"
    wrapper.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "TensorFlow Lite version {version}"; exit 0; fi\n'
                       f'exec "{sys.executable}" "{fake}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_phone_runtime_is_probed_and_old_op_versions_refused(fake_adbd: FakeAdbd, tiny_models,  # noqa: F811
                                                             tmp_path: Path) -> None:  # noqa: ANN001
    from edgekit.errors import RuntimeIncompatible

    old = phone(fake_adbd, tmp_path, runner="benchmark_model", binary=versioned_binary(tmp_path / "old", "1.13.0"),
                big_cores="1")
    with DeviceSession(old) as s:
        assert (s.facts()["runtime"], s.facts()["runtime_version"]) == ("tflite", "1.13.0")
        with pytest.raises(RuntimeIncompatible) as info:
            s.measure(tiny_models.int8_tflite, QUICK)
    assert "CONV_2D v3 needs TFLite runtime >= 1.14.0" in info.value.message
    models = fake_adbd.root / "data/local/tmp/edgekit/models"
    assert not models.exists() or not any(models.iterdir())              # refused before the model was pushed
    new = phone(fake_adbd, tmp_path, runner="benchmark_model", binary=versioned_binary(tmp_path / "new", "2.16.1"),
                big_cores="1")
    with DeviceSession(new) as s:
        m = s.measure(tiny_models.int8_tflite, QUICK)
    assert m.status == "ok" and m.facts["runtime_version"] == "2.16.1"
