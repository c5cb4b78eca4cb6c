"""The shipped device profiles, user/--profiles overrides, and ``edgekit devices``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.cli.main import main
from edgekit.devices.cpuset import parse_cpu_set, to_list, to_mask
from edgekit.devices.profile import get_profile, load_profiles
from edgekit.devices.runners.script import cpu_spec
from edgekit.devices.transports.factory import make_transport
from edgekit.devices.workdir import check_workdir
from edgekit.errors import ConfigError
from edgekit.measurement import RunSettings

SHIPPED = {"host", "pixel3", "pixel3xl", "pixel4", "galaxy-s10", "oppo-a5", "coral-devboard", "coral-usb",
           "jetson-nano", "jetson-xavier-nx", "rpi4"}


@pytest.fixture(autouse=True)
def _no_user_profiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("EDGEKIT_PROFILES", raising=False)


def test_every_shipped_profile_loads_and_is_consistent() -> None:
    profiles = load_profiles()
    assert SHIPPED <= set(profiles)
    for p in profiles.values():
        check_workdir(p.workdir, p.name)
        parse_cpu_set(p.big_cores)
        assert p.description and p.abi and p.source.endswith(f"{p.name}.toml")
        if p.kind == "phone":
            assert (p.transport, p.os, p.runner) == ("adb", "android", "benchmark_model")
            assert p.workdir == "/data/local/tmp/edgekit-{uid}" and p.big_cores != "auto"
        else:
            assert p.runner == "edgekit-runner" and p.os == "linux"
        assert not p.workdir.startswith("/tmp/")  # never a shared, predictable name
    assert {p.paper_column for p in profiles.values() if p.paper_column} == {
        "latency_ms_oppo_a5", "latency_ms_pixel_3xl", "latency_ms_galaxy_s10"}
    table5 = Path(__file__).resolve().parents[3] / "shared" / "paper" / "table5_float.csv"
    if table5.exists():  # the paper's columns these profiles claim exist
        header = table5.read_text().splitlines()[0].split(",")
        assert {p.paper_column for p in profiles.values() if p.paper_column} <= set(header)
    assert parse_cpu_set(profiles["pixel3"].big_cores) == [4, 5, 6, 7]
    assert parse_cpu_set(profiles["pixel4"].big_cores) == [7]
    coral = profiles["coral-devboard"]
    assert coral.delegates[0] == "edgetpu" and coral.connection.user == "mendel"
    assert coral.connection.host == "192.168.100.2" and coral.edgetpu_runtime_version == 14


def test_cpu_sets() -> None:
    assert parse_cpu_set("f0") == [4, 5, 6, 7] and parse_cpu_set("0x3") == [0, 1]
    assert parse_cpu_set("4-7") == [4, 5, 6, 7] and parse_cpu_set("1,3") == [1, 3]
    assert parse_cpu_set("auto") is None and to_mask([4, 5, 6, 7]) == "f0" and to_list([7, 6]) == "6,7"
    with pytest.raises(ConfigError, match="not a hex mask"):
        parse_cpu_set("big")
    host = get_profile("host")
    assert cpu_spec(host, RunSettings()) == "auto" and cpu_spec(host, RunSettings(pin=False)) == "none"
    assert cpu_spec(get_profile("pixel3"), RunSettings()) == "4,5,6,7"


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "typo.toml").write_text('transport = "local"\nbig_core = "f0"\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['big_core'\]"):
        load_profiles([tmp_path])
    assert main(["devices", "--profiles", str(tmp_path)]) == 2


def test_profiles_dir_overrides_and_adds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "host.toml").write_text('description = "my host"\ntransport = "local"\nworkdir = "/tmp/mine"\n')
    (tmp_path / "lab-rpi.toml").write_text('transport = "ssh"\nabi = "aarch64"\n[connection]\nhost = "10.0.0.9"\n'
                                           'user = "pi"\n')
    assert main(["devices", "--profiles", str(tmp_path), "--json"]) == 0
    docs = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert docs["host"]["description"] == "my host" and docs["host"]["workdir"] == "/tmp/mine"
    assert docs["lab-rpi"]["connection"]["host"] == "10.0.0.9" and SHIPPED <= set(docs)
    assert main(["devices", "--profiles", str(tmp_path / "missing")]) == 2


def test_devices_table_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    for name in ("pixel3xl", "coral-devboard", "mendel@192.168.100.2", "benchmark_model", "edgekit-runner"):
        assert name in out
    assert main(["devices", "--check", "host", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reachable"] and doc["facts"]["runtime"] == "ai_edge_litert" and doc["seconds"] > 0
    assert main(["devices", "--check", "host"]) == 0
    out = capsys.readouterr().out
    assert "host: reachable" in out and "runtime_version" in out


def test_check_of_unknown_device_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--check", "pixel33"]) == 2
    err = capsys.readouterr().err
    assert "no device profile named 'pixel33'" in err and "pixel3" in err


def test_transport_factory() -> None:
    from edgekit.devices.transports.local import LocalTransport

    assert isinstance(make_transport(get_profile("host")), LocalTransport)
    t = make_transport(get_profile("rpi4"))
    assert type(t).__name__ == "SshTransport" and (t.host, t.user, t.port) == ("raspberrypi.local", "pi", 22)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="needs connection.host"):
        make_transport(get_profile("pixel3"))
    t = make_transport(get_profile("pixel3").with_connection(serial="192.168.1.20:5555"))
    assert type(t).__name__ == "AdbTransport" and (t.host, t.port) == ("192.168.1.20", 5555)  # type: ignore[attr-defined]
    import dataclasses

    server = dataclasses.replace(get_profile("pixel3"), transport="adb-server").with_connection(
        serial="8AKX0ABC", server="10.1.1.1:5038")
    t = make_transport(server)
    assert type(t).__name__ == "AdbServerTransport"
    assert (t.serial, t.server_host, t.server_port) == ("8AKX0ABC", "10.1.1.1", 5038)  # type: ignore[attr-defined]


def test_cli_starts_without_heavy_imports() -> None:
    code = ("import sys, edgekit.cli.main; "
            "print(sorted(m for m in ('tensorflow', 'numpy', 'paramiko', 'adb_shell', 'adbutils') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_renamed_device_remembers_its_profile_and_files_cannot_forge_it() -> None:
    from edgekit.devices.profile import get_profile, profile_from_dict
    from edgekit.errors import ConfigError

    phone = get_profile("pixel3").renamed("pixel3-a").renamed("pixel3-b")
    assert (phone.name, phone.profile_name) == ("pixel3-b", "pixel3")
    for internal in ("base", "source"):
        with pytest.raises(ConfigError, match="unknown key"):
            profile_from_dict({"name": "x", internal: "pixel3"}, source="test")


def test_device_entry_paths_made_absolute_for_a_derived_lab_file(tmp_path) -> None:  # noqa: ANN001
    from edgekit.devices.profile import absolute_device_paths

    entry = {"name": "b", "profile": "rpi4", "key": "keys/id", "known_hosts": "/etc/kh", "benchmark_binary": "bin/bm",
             "host": "10.0.0.2"}
    got = absolute_device_paths(entry, tmp_path)
    assert got["key"] == str(tmp_path.resolve() / "keys/id") and got["benchmark_binary"] == str(tmp_path.resolve() / "bin/bm")
    assert got["known_hosts"] == "/etc/kh" and got["host"] == "10.0.0.2" and entry["key"] == "keys/id"
    assert absolute_device_paths({"key": "~/.ssh/id"}, tmp_path) == {"key": "~/.ssh/id"}
