"""SshTransport against a real OpenSSH server on loopback (the ``sshd`` fixture)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from edgekit.devices.transports import SshTransport
from edgekit.errors import DeviceError, DeviceTimeout, DeviceUnreachable
from tests.devices.conftest import SshServer, free_port
from tests.devices.test_transport_local import NASTY_ARGS, NASTY_NAME

pytestmark = pytest.mark.timeout(120)


def transport(sshd: SshServer, **overrides: object) -> SshTransport:
    options: dict[str, object] = dict(port=sshd.port, key_path=sshd.key_path, known_hosts=sshd.known_hosts,
                                      connect_timeout=5)
    options.update(overrides)
    return SshTransport("coral", sshd.host, sshd.user, **options)  # type: ignore[arg-type]


def test_argv_reaches_the_remote_program_verbatim(sshd: SshServer) -> None:
    with transport(sshd) as ssh:
        result = ssh.run(["printf", "%s\\n", *NASTY_ARGS], timeout=20)
    assert (result.rc, result.stderr) == (0, "")
    assert result.stdout == "".join(a + "\n" for a in NASTY_ARGS)


def test_exit_code_stdout_and_stderr(sshd: SshServer) -> None:
    with transport(sshd) as ssh:
        result = ssh.run(["sh", "-c", "echo out; echo err >&2; exit 7"], timeout=20)
        big = ssh.run(["sh", "-c", "head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2"], timeout=30)
    assert (result.rc, result.stdout, result.stderr) == (7, "out\n", "err\n")
    # both streams far beyond the channel window: read together, no deadlock
    assert (big.rc, len(big.stdout), len(big.stderr)) == (0, 3_000_000, 2_000_000)


def test_one_connection_serves_many_commands(sshd: SshServer) -> None:
    with transport(sshd) as ssh:
        outputs = [ssh.run(["echo", str(i)], timeout=20).stdout for i in range(5)]
    assert outputs == [f"{i}\n" for i in range(5)]
    assert sshd.log().count("Accepted publickey") == 1


def test_timeout_kills_the_remote_process(sshd: SshServer, wait_gone) -> None:  # noqa: ANN001
    with transport(sshd) as ssh:
        start = time.monotonic()
        with pytest.raises(DeviceTimeout) as info:
            ssh.run(["sh", "-c", "sleep 37.02; echo never"], timeout=1)
        assert time.monotonic() - start < 6
        message = str(info.value)
        assert "coral" in message and "sleep 37.02" in message and "1 s" in message
        assert wait_gone("sleep 37.02", 5), "the remote process survived the timeout"
        assert ssh.run(["true"], timeout=20).rc == 0  # the connection is still usable


def test_push_pull_round_trip(sshd: SshServer, tmp_path: Path) -> None:
    data = os.urandom(1_500_000)
    source = tmp_path / NASTY_NAME
    source.write_bytes(data)
    source.chmod(0o750)
    remote = tmp_path / "board" / "new dir" / NASTY_NAME
    with transport(sshd) as ssh:
        ssh.push(source, str(remote), timeout=30)
        assert remote.read_bytes() == data
        assert remote.stat().st_mode & 0o777 == 0o750
        assert not Path(str(remote) + ".partial").exists()
        back = tmp_path / "back" / NASTY_NAME
        ssh.pull(str(remote), back, timeout=30)
    assert back.read_bytes() == data


def test_pull_of_a_missing_file_is_a_device_error(sshd: SshServer, tmp_path: Path) -> None:
    with transport(sshd) as ssh, pytest.raises(DeviceError) as info:
        ssh.pull(str(tmp_path / "absent"), tmp_path / "local", timeout=20)
    assert not isinstance(info.value, DeviceUnreachable)
    assert "coral" in str(info.value)


def test_closed_port_is_unreachable_fast() -> None:
    ssh = SshTransport("coral", "127.0.0.1", "mendel", port=free_port(), connect_timeout=5)
    start = time.monotonic()
    with pytest.raises(DeviceUnreachable) as info:
        ssh.run(["true"], timeout=10)
    assert time.monotonic() - start < 3
    assert "device 'coral' (mendel@127.0.0.1:" in str(info.value)
    assert "ssh -p" in (info.value.hint or "") and info.value.device == "coral"


def test_wrong_key_is_refused_with_a_hint(sshd: SshServer) -> None:
    with pytest.raises(DeviceUnreachable) as info:
        transport(sshd, key_path=sshd.other_key()).run(["true"], timeout=10)
    assert "refused" in str(info.value) and "coral" in str(info.value)
    assert "ssh-copy-id" in (info.value.hint or "") and "mdt pushkey" in (info.value.hint or "")


def test_unknown_host_key_is_refused_by_default(sshd: SshServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(DeviceUnreachable) as info:
        transport(sshd, known_hosts=empty).run(["true"], timeout=10)
    assert "unknown host key" in str(info.value)
    hint = info.value.hint or ""
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1" in hint and "--insecure-accept-host-key" in hint


def test_insecure_flag_accepts_an_unknown_host_key_with_a_warning_and_saves_it(
        sshd: SshServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edgekit.devices.transports")
    known = tmp_path / "new" / "known_hosts"
    with transport(sshd, known_hosts=known, insecure_accept_host_key=True) as ssh:
        assert ssh.run(["echo", "ok"], timeout=20).stdout == "ok\n"
    assert any("on first use" in r.getMessage() for r in caplog.records)
    # saved as OpenSSH files it, private to the user
    assert known.read_text() == sshd.host_key_line + "\n"
    assert known.stat().st_mode & 0o777 == 0o600
    # the saved key is now trusted without the flag
    with transport(sshd, known_hosts=known) as ssh:
        assert ssh.run(["echo", "again"], timeout=20).stdout == "again\n"


def test_changed_host_key_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    impostor = Path(str(sshd.other_key("impostor")) + ".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {impostor[0]} {impostor[1]}\n")
    with pytest.raises(DeviceUnreachable) as info:
        transport(sshd, known_hosts=known).run(["true"], timeout=10)
    assert "does not match" in str(info.value) and "ssh-keygen" in (info.value.hint or "")


def test_reconnects_after_the_connection_drops(sshd: SshServer) -> None:
    with transport(sshd, keepalive_s=1) as ssh:
        assert ssh.run(["echo", "1"], timeout=20).stdout == "1\n"
        sshd.kill_sessions()
        assert ssh.run(["echo", "2"], timeout=20).stdout == "2\n"
    assert sshd.log().count("Accepted publickey") == 2


@pytest.mark.timeout(180)
def test_board_dying_mid_push_leaves_no_complete_file(sshd: SshServer, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as fh:
        for _ in range(128):
            fh.write(os.urandom(1 << 20))
    remote = tmp_path / "board" / "big.bin"
    partial = Path(str(remote) + ".partial")
    errors: list[BaseException] = []
    ssh = transport(sshd)
    ssh.run(["true"], timeout=20)

    def push() -> None:
        try:
            ssh.push(source, str(remote), timeout=120)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=push)
    worker.start()
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.stat().st_size > 2 << 20) and worker.is_alive():
        assert time.monotonic() < deadline, "the push never started"
        time.sleep(0.01)
    sshd.kill()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], DeviceUnreachable), errors
    assert "coral" in str(errors[0])
    assert not remote.exists(), "an interrupted push left a complete-looking file"
