"""AdbTransport (adb-shell, direct) and AdbServerTransport (adbutils, via a real adb server),
both against the fake adbd; and Debian's real adb client against the fake, so the fake is
held to the real protocol."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from edgekit.devices.transports import AdbServerTransport, AdbTransport, Transport
from edgekit.devices.transports.adb import parse_features
from edgekit.devices.transports.adb_keys import ensure_adb_key
from edgekit.devices.transports.shell_protocol import ShellV2Decoder, split_pid, split_rc
from edgekit.errors import DeviceError, DeviceTimeout, DeviceUnreachable
from tests.devices.conftest import AdbServer, free_port, wait_for_port
from tests.devices.test_transport_local import NASTY_ARGS, NASTY_NAME
from tests.fakes.fake_adbd import FakeAdbd

pytestmark = pytest.mark.timeout(120)


def direct(adbd: FakeAdbd, key: Path, **options: object) -> AdbTransport:
    return AdbTransport("pixel", host=adbd.host, port=adbd.port, key_path=key, connect_timeout=5,
                        **options)  # type: ignore[arg-type]


@pytest.fixture(params=["direct", "server"])
def phone(request: pytest.FixtureRequest, fake_adbd: FakeAdbd, tmp_path: Path) -> Iterator[Transport]:
    """The fake phone through either transport."""
    if request.param == "direct":
        transport: Transport = direct(fake_adbd, tmp_path / "adbkey")
    else:
        server: AdbServer = request.getfixturevalue("adb_server")
        transport = AdbServerTransport("pixel", fake_adbd.serial, server_port=server.port, connect_timeout=10)
    with transport:
        yield transport


def test_argv_reaches_the_device_verbatim(phone: Transport) -> None:
    result = phone.run(["printf", "%s\\n", *NASTY_ARGS], timeout=20)
    assert (result.rc, result.stderr) == (0, "")
    assert result.stdout == "".join(a + "\n" for a in NASTY_ARGS)


def test_exit_code_stdout_and_stderr(phone: Transport) -> None:
    result = phone.run(["sh", "-c", "echo out; echo err >&2; exit 7"], timeout=20)
    assert (result.rc, result.stdout, result.stderr) == (7, "out\n", "err\n")
    big = phone.run(["sh", "-c", "head -c 3000000 /dev/zero; head -c 200000 /dev/zero >&2"], timeout=30)
    assert (big.rc, len(big.stdout), len(big.stderr)) == (0, 3_000_000, 200_000)


def test_timeout_kills_the_device_process(phone: Transport, wait_gone) -> None:  # noqa: ANN001
    start = time.monotonic()
    with pytest.raises(DeviceTimeout) as info:
        phone.run(["sh", "-c", "sleep 37.04; echo never"], timeout=1)
    assert time.monotonic() - start < 6
    assert "pixel" in str(info.value) and "sleep 37.04" in str(info.value) and "1 s" in str(info.value)
    assert wait_gone("sleep 37.04", 5), "the device process survived the timeout"
    assert phone.run(["echo", "again"], timeout=20).stdout == "again\n"


def test_push_pull_round_trip(phone: Transport, fake_adbd: FakeAdbd, tmp_path: Path) -> None:
    data = os.urandom(2_500_000)
    source = tmp_path / NASTY_NAME
    source.write_bytes(data)
    source.chmod(0o750)
    remote = fake_adbd.root / "data" / "local" / "tmp" / "new dir" / NASTY_NAME
    phone.push(source, str(remote), timeout=30)
    assert remote.read_bytes() == data
    assert stat.S_IMODE(remote.stat().st_mode) & 0o700 == 0o700  # adbd copies user bits to group/other
    assert not Path(str(remote) + ".partial").exists()
    back = tmp_path / "back" / NASTY_NAME
    phone.pull(str(remote), back, timeout=30)
    assert back.read_bytes() == data


def test_pull_of_a_missing_file_is_a_device_error(phone: Transport, fake_adbd: FakeAdbd, tmp_path: Path) -> None:
    with pytest.raises(DeviceError) as info:
        phone.pull(str(fake_adbd.root / "absent"), tmp_path / "local", timeout=20)
    assert not isinstance(info.value, DeviceUnreachable)
    assert "pixel" in str(info.value)
    assert phone.run(["true"], timeout=20).rc == 0


def test_key_is_created_once_with_mode_0600_and_reused(fake_adbd: FakeAdbd, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "cfg" / "adbkey"
    monkeypatch.setenv("EDGEKIT_ADB_KEY", str(key))
    with AdbTransport("pixel", host=fake_adbd.host, port=fake_adbd.port) as first:
        assert first.run(["true"], timeout=20).rc == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    pem = key.read_bytes()
    fake_adbd.reject_auth = True  # from now on only signatures by known keys get in
    with AdbTransport("pixel", host=fake_adbd.host, port=fake_adbd.port) as second:
        assert second.run(["echo", "again"], timeout=20).stdout == "again\n"
    assert key.read_bytes() == pem and len(fake_adbd.authorized_keys) == 1


def test_shell_v1_fallback_without_the_shell_v2_feature(fake_adbd: FakeAdbd, tmp_path: Path) -> None:
    fake_adbd.features = ("cmd",)
    with direct(fake_adbd, tmp_path / "adbkey") as phone:
        result = phone.run(["sh", "-c", "printf 'no newline'; exit 5"], timeout=20)
        verbatim = phone.run(["printf", "%s\\n", *NASTY_ARGS], timeout=20)
        assert "shell_v2" not in phone.features
    assert (result.rc, result.stdout) == (5, "no newline")
    assert verbatim.stdout == "".join(a + "\n" for a in NASTY_ARGS)


def test_closed_port_is_unreachable_fast(tmp_path: Path) -> None:
    phone = AdbTransport("pixel", host="127.0.0.1", port=free_port(), key_path=tmp_path / "k")
    start = time.monotonic()
    with pytest.raises(DeviceUnreachable) as info:
        phone.run(["true"], timeout=10)
    assert time.monotonic() - start < 3
    assert "device 'pixel' (127.0.0.1:" in str(info.value) and "adb tcpip" in (info.value.hint or "")


def test_unaccepted_key_is_refused_with_the_prompt_hint(fake_adbd: FakeAdbd, tmp_path: Path) -> None:
    fake_adbd.reject_auth = True
    with pytest.raises(DeviceUnreachable) as info:
        direct(fake_adbd, tmp_path / "adbkey", auth_timeout=1).run(["true"], timeout=10)
    assert "not authorized" in str(info.value) and "pixel" in str(info.value)
    assert "Allow USB debugging" in (info.value.hint or "") and str(tmp_path / "adbkey") in (info.value.hint or "")


def test_known_key_is_accepted_by_signature(tmp_path: Path) -> None:
    key = ensure_adb_key(tmp_path / "adbkey")
    public = Path(f"{key}.pub").read_text()
    with FakeAdbd(tmp_path / "device", known_keys=[public], reject_auth=True) as adbd:
        with direct(adbd, key) as phone:
            assert phone.run(["echo", "hi"], timeout=20).stdout == "hi\n"


def test_phone_dropping_mid_push_leaves_no_file(fake_adbd: FakeAdbd, tmp_path: Path) -> None:
    source = tmp_path / "model.tflite"
    source.write_bytes(os.urandom(4_000_000))
    remote = fake_adbd.root / "data" / "local" / "tmp" / "model.tflite"
    fake_adbd.drop_after_bytes = 1_000_000
    with direct(fake_adbd, tmp_path / "adbkey") as phone:
        with pytest.raises(DeviceUnreachable) as info:
            phone.push(source, str(remote), timeout=30)
        assert "pixel" in str(info.value)
        assert fake_adbd.drops == 1
        assert not remote.exists()
        # like adbd, the fake deletes the half-written file when it notices the dead link
        partial, deadline = Path(f"{remote}.partial"), time.monotonic() + 5
        while partial.exists():
            assert time.monotonic() < deadline, "the half-written file was never removed"
            time.sleep(0.01)
        fake_adbd.drop_after_bytes = None
        phone.push(source, str(remote), timeout=30)  # reconnects
    assert remote.read_bytes() == source.read_bytes()


def test_adb_server_unreachable_is_reported_without_starting_one(fake_adbd: FakeAdbd) -> None:
    port = free_port()
    phone = AdbServerTransport("pixel", fake_adbd.serial, server_port=port, connect_timeout=3)
    with pytest.raises(DeviceUnreachable) as info:
        phone.run(["true"], timeout=10)
    assert "adb server" in str(info.value) and "start-server" in (info.value.hint or "")
    # adbutils' default would have run `adb start-server` (synchronously) on that port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_adb_server_unknown_serial(adb_server: AdbServer) -> None:
    phone = AdbServerTransport("pixel", "NOSUCHSERIAL", server_port=adb_server.port)
    with pytest.raises(DeviceUnreachable) as info:
        phone.run(["true"], timeout=10)
    assert "pixel" in str(info.value) and "not found" in str(info.value)


def test_adb_server_unauthorized_device(adb_server: AdbServer, fake_adbd: FakeAdbd) -> None:
    fake_adbd.reject_auth = True
    phone = AdbServerTransport("pixel", fake_adbd.serial, server_port=adb_server.port, connect_timeout=2)
    with pytest.raises(DeviceUnreachable) as info:
        phone.run(["true"], timeout=10)
    assert "not authorized" in str(info.value) and "Allow USB debugging" in (info.value.hint or "")


@pytest.mark.timeout(180)
def test_real_adb_client_against_the_fake(adb_server: AdbServer, fake_adbd: FakeAdbd, tmp_path: Path) -> None:
    serial = fake_adbd.serial
    connected = adb_server.run("connect", serial)
    assert serial in connected.stdout, connected
    assert adb_server.run("-s", serial, "wait-for-device", timeout=30).returncode == 0
    devices = adb_server.run("devices", "-l").stdout
    assert f"{serial}" in devices and "device product:edgekit-fake model:EdgekitFake" in devices

    hi = adb_server.run("-s", serial, "shell", "echo", "hi")
    assert (hi.returncode, hi.stdout) == (0, "hi\n")
    failing = adb_server.run("-s", serial, "shell", "sh", "-c", "'echo oops >&2; exit 3'")
    assert (failing.returncode, failing.stderr) == (3, "oops\n")  # shell v2: exit code and stderr

    source = tmp_path / "weights file.bin"
    source.write_bytes(os.urandom(3_000_000))
    remote = fake_adbd.root / "data" / "local" / "tmp" / "weights file.bin"
    pushed = adb_server.run("-s", serial, "push", str(source), str(remote))
    assert pushed.returncode == 0, pushed.stderr
    assert remote.read_bytes() == source.read_bytes()
    back = tmp_path / "pulled.bin"
    pulled = adb_server.run("-s", serial, "pull", str(remote), str(back))
    assert pulled.returncode == 0, pulled.stderr
    assert back.read_bytes() == source.read_bytes()
    listing = adb_server.run("-s", serial, "shell", "ls", str(remote.parent))
    assert listing.stdout.splitlines() == ["weights file.bin"]


def test_fake_adbd_as_a_process_reconnect_and_death(tmp_path: Path) -> None:
    """The fake runs as a real process; the transport reconnects when the device comes back
    and reports DeviceUnreachable when it is gone."""
    port = free_port()
    root = tmp_path / "device"
    script = Path(__file__).resolve().parents[1] / "fakes" / "fake_adbd.py"

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, str(script), "--port", str(port), "--root", str(root)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for_port(port, 20, alive=lambda: proc.poll() is None)
        return proc

    proc = start()
    try:
        with AdbTransport("pixel", host="127.0.0.1", port=port, key_path=tmp_path / "adbkey") as phone:
            assert phone.run(["echo", "1"], timeout=20).stdout == "1\n"
            proc.kill()
            proc.wait(timeout=10)
            proc = start()  # the phone rebooted: the cached connection is stale
            assert phone.run(["echo", "2"], timeout=20).stdout == "2\n"
            proc.kill()
            proc.wait(timeout=10)
            start_time = time.monotonic()
            with pytest.raises(DeviceUnreachable) as info:
                phone.run(["echo", "3"], timeout=20)
            assert time.monotonic() - start_time < 3 and "pixel" in str(info.value)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_shell_v2_decoder_handles_any_chunking() -> None:
    stream = (b"\x01\x03\x00\x00\x00out" + b"\x02\x04\x00\x00\x00err\n" + b"\x01\x00\x00\x00\x00"
              + b"\x03\x01\x00\x00\x00\x07")
    for size in (1, 2, 5, 7, len(stream)):
        decoder = ShellV2Decoder()
        for i in range(0, len(stream), size):
            decoder.feed(stream[i:i + size])
        assert (bytes(decoder.stdout), bytes(decoder.stderr), decoder.exit_code) == (b"out", b"err\n", 7)


def test_markers_split_cleanly() -> None:
    assert split_pid(b"__EDGEKIT_PID=42\nrest") == (42, b"rest")
    assert split_pid(b"no marker") == (None, b"no marker")
    assert split_rc(b"partial line__EDGEKIT_RC=3\n") == (3, b"partial line")
    assert parse_features(b"device::ro.product.name=x;features=shell_v2,cmd") == {"shell_v2", "cmd"}
