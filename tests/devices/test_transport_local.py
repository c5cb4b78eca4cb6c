"""LocalTransport: real processes and files on this host."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from edgekit.devices.transports import LocalTransport
from edgekit.errors import ConfigError, DeviceError, DeviceTimeout

#: arguments a shell would mangle; a transport must deliver them verbatim
NASTY_ARGS = ["a b", "it's", '"double"', "$HOME", "`id`", "x;y", "a&&b", "*", "", "back\\slash",
              "new\nline", "tab\there", "ünïcødé", "-n"]
NASTY_NAME = "we ird 'single' \"double\" $x;.bin"

pytestmark = pytest.mark.timeout(60)


def test_argv_reaches_the_program_verbatim() -> None:
    result = LocalTransport().run(["printf", "%s\\n", *NASTY_ARGS], timeout=10)
    assert result.rc == 0
    assert result.stdout == "".join(a + "\n" for a in NASTY_ARGS)
    assert result.argv == ("printf", "%s\\n", *NASTY_ARGS)


def test_exit_code_stdout_and_stderr_are_separate() -> None:
    result = LocalTransport().run(["sh", "-c", "echo out; echo err >&2; exit 7"], timeout=10)
    assert (result.rc, result.stdout, result.stderr, result.ok) == (7, "out\n", "err\n", False)
    assert result.seconds >= 0


def test_missing_program_is_exit_code_127() -> None:
    result = LocalTransport().run(["edgekit-no-such-program"], timeout=10)
    assert result.rc == 127
    assert "edgekit-no-such-program" in result.stderr


def test_timeout_kills_the_whole_process_group(wait_gone) -> None:  # noqa: ANN001
    transport = LocalTransport(device="bench-host")
    start = time.monotonic()
    with pytest.raises(DeviceTimeout) as info:
        transport.run(["sh", "-c", "sleep 37.01; echo never"], timeout=1)
    assert time.monotonic() - start < 5
    assert "bench-host" in str(info.value) and "1 s" in str(info.value) and "sleep 37.01" in str(info.value)
    assert info.value.device == "bench-host"
    assert wait_gone("sleep 37.01", 5), "the grandchild survived the timeout"


def test_workdir_is_the_cwd_and_the_base_of_relative_paths(tmp_path: Path) -> None:
    transport = LocalTransport(workdir=tmp_path)
    assert transport.run(["pwd"], timeout=10).stdout.strip() == str(tmp_path)
    source = tmp_path / "in.txt"
    source.write_text("hello")
    transport.push(source, "sub/copied.txt", timeout=10)
    assert (tmp_path / "sub" / "copied.txt").read_text() == "hello"


def test_push_pull_round_trip_keeps_bytes_and_mode(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    source = tmp_path / NASTY_NAME
    source.write_bytes(data)
    source.chmod(0o750)
    remote = tmp_path / "device" / "deep dir" / NASTY_NAME
    transport = LocalTransport()
    transport.push(source, str(remote), timeout=10)
    assert remote.read_bytes() == data
    assert remote.stat().st_mode & 0o777 == 0o750
    back = tmp_path / "back" / NASTY_NAME
    transport.pull(str(remote), back, timeout=10)
    assert back.read_bytes() == data
    assert not list(tmp_path.rglob("*.partial"))


def test_pull_of_a_missing_file_names_the_device(tmp_path: Path) -> None:
    with pytest.raises(DeviceError) as info:
        LocalTransport(device="bench-host").pull(str(tmp_path / "nope"), tmp_path / "x", timeout=5)
    assert "bench-host" in str(info.value) and info.value.device == "bench-host"
    assert not (tmp_path / "x").exists()


def test_push_of_a_missing_local_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        LocalTransport().push(tmp_path / "nope", str(tmp_path / "dest"), timeout=5)
