"""Host-key policy against a real sshd whose host key is replaced between two connections."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edgekit.devices.transports import SshTransport
from edgekit.errors import DeviceUnreachable
from tests.devices.conftest import SSHD, SshServer, wait_for_port

pytestmark = pytest.mark.timeout(120)


def _fingerprint(pub: Path) -> str:
    """What ``ssh-keygen -lf`` prints as the key's SHA256 fingerprint (OpenSSH's own tool)."""
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return out.split()[1]


def _replace_host_key(sshd: SshServer) -> None:
    """Reflash the board (or put someone in the middle): same address, a new host key."""
    host_key = sshd.folder / "host_key"
    host_key.unlink()
    host_key.with_suffix(".pub").unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "impostor", "-f", str(host_key)],
                   check=True, timeout=30)
    sshd.kill()
    with sshd.log_path.open("ab") as log:
        sshd.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(sshd.folder / "sshd_config")],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
    assert wait_for_port(sshd.port, 10, alive=lambda: sshd.proc.poll() is None), sshd.log()


def _transport(sshd: SshServer, known: Path, accept_new: bool) -> SshTransport:
    return SshTransport("coral", sshd.host, sshd.user, port=sshd.port, key_path=sshd.key_path,
                        known_hosts=known, insecure_accept_host_key=accept_new, connect_timeout=5)


@pytest.mark.parametrize("accept_new", [True, False])
def test_a_changed_host_key_is_refused_even_with_the_insecure_flag(
        sshd: SshServer, tmp_path: Path, accept_new: bool) -> None:
    known = tmp_path / "known_hosts"
    old = _fingerprint(sshd.folder / "host_key.pub")
    with _transport(sshd, known, accept_new=True) as ssh:  # first use: trusted and saved
        assert ssh.run(["echo", "first"], timeout=20).stdout == "first\n"
    saved = known.read_text()
    assert saved == sshd.host_key_line + "\n"

    _replace_host_key(sshd)
    new = _fingerprint(sshd.folder / "host_key.pub")
    assert new != old
    with pytest.raises(DeviceUnreachable) as info:
        _transport(sshd, known, accept_new=accept_new).run(["true"], timeout=10)
    message = str(info.value)
    assert f"[127.0.0.1]:{sshd.port}" in message and "coral" in message
    assert old in message and new in message, message
    assert "CHANGED" in message
    assert "ssh-keygen" in (info.value.hint or "") and "never accepted" in (info.value.hint or "")
    assert known.read_text() == saved  # the impostor's key was not saved
    assert sshd.log().count("Accepted publickey") == 1  # never authenticated to the new key


def test_unknown_host_is_refused_without_the_flag_and_nothing_is_saved(sshd: SshServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    with pytest.raises(DeviceUnreachable) as info:
        _transport(sshd, known, accept_new=False).run(["true"], timeout=10)
    assert "unknown host key" in str(info.value)
    assert _fingerprint(sshd.folder / "host_key.pub") in str(info.value)
    assert not known.exists()
