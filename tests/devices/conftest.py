"""Fixtures for the transport tests: a real OpenSSH server, the fake adbd, a real adb server.

All of them run on loopback with throwaway keys in ``tmp_path`` and free ports, wait for
readiness by polling with a deadline, and are killed at teardown.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.fakes.fake_adbd import FakeAdbd

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    """A TCP port nobody listens on (closed again, so connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, deadline_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll until something accepts on 127.0.0.1:port; False on deadline or death."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (sshd's per-connection children call setsid)."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        kids = tree.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def processes_matching(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (this host is the device in these tests)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.fixture
def wait_gone() -> Callable[[str, float], bool]:
    """``wait_gone(text, seconds)``: poll until no process command line contains ``text``."""
    def wait(text: str, seconds: float = 5.0) -> bool:
        deadline = time.monotonic() + seconds
        while processes_matching(text):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True
    return wait


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, timeout=30)
    return path


@dataclass
class SshServer:
    """A running sshd: connect as ``user`` with ``key_path``, verify with ``known_hosts``."""

    host: str
    port: int
    user: str
    key_path: Path
    known_hosts: Path
    host_key_line: str
    folder: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def other_key(self, name: str = "stranger") -> Path:
        """A fresh client key that is not authorised."""
        return _keygen(self.folder / name, name)

    def kill_sessions(self) -> None:
        """Cut every open connection (a dropped link) but keep listening."""
        _kill(descendants(self.proc.pid))

    def kill(self) -> None:
        """Kill the listener and every session process it forked (a board losing power)."""
        sessions = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.kill()
        _kill(sessions)
        self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A real OpenSSH server on 127.0.0.1 (root or not), key auth only."""
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    folder = tmp_path / "sshd"
    folder.mkdir()
    host_key = _keygen(folder / "host_key", "edgekit-test-host")
    client_key = _keygen(folder / "client_key", "edgekit-test-client")
    authorized = folder / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log_path = folder / "sshd.log"
    for _attempt in range(3):
        port = free_port()
        config = folder / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile none\n"
            f"AuthorizedKeysFile {authorized}\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\n"
            "MaxStartups 100\nMaxSessions 100\n")
        with log_path.open("ab") as log:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait_for_port(port, 10, alive=lambda: proc.poll() is None):
            break
        proc.kill()
        proc.wait(timeout=10)
    else:
        pytest.fail(f"sshd did not start:\n{log_path.read_text(errors='replace')}")
    known_hosts = folder / "known_hosts"
    host_key_line = host_key.with_suffix(".pub").read_text().split()
    line = f"[127.0.0.1]:{port} {host_key_line[0]} {host_key_line[1]}"
    known_hosts.write_text(line + "\n")
    server = SshServer("127.0.0.1", port, getpass.getuser(), client_key, known_hosts, line, folder, proc, log_path)
    yield server
    server.kill()


@pytest.fixture
def fake_adbd(tmp_path: Path) -> Iterator[FakeAdbd]:
    """A fake adbd on a free port; its "device" filesystem is ``tmp_path/device``.

    Device paths in tests are absolute host paths under ``adbd.root`` (for instance
    ``adbd.root / "data/local/tmp"``, created here).
    """
    root = tmp_path / "device"
    (root / "data" / "local" / "tmp").mkdir(parents=True)
    with FakeAdbd(root) as adbd:
        yield adbd


@dataclass
class AdbServer:
    """A real adb server (Debian's ``adb``) on ``port`` with its own HOME (and adbkey)."""

    adb: str
    port: int
    home: Path
    env: dict[str, str] = field(repr=False)

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``adb -P PORT ARGS`` against this server."""
        return subprocess.run([self.adb, "-P", str(self.port), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def adb_server(tmp_path: Path) -> Iterator[AdbServer]:
    """``adb -P PORT start-server`` with HOME in tmp_path; killed at teardown."""
    adb = shutil.which("adb")
    if adb is None:
        pytest.skip("adb not installed (apt-get install adb)")
    home = tmp_path / "adb-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANDROID_", "ADB_"))}
    env["HOME"] = str(home)
    server = AdbServer(adb, free_port(), home, env)
    started = server.run("start-server", timeout=60)
    assert started.returncode == 0, started.stderr
    assert wait_for_port(server.port, 10)
    yield server
    server.run("kill-server", timeout=30)
    leftovers = processes_matching(f"tcp:{server.port} fork-server")
    _kill(leftovers)
