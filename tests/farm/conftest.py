"""Fixtures for the farm tests: tiny models with a manifest, test profiles, sshd "boards".

A board is a real OpenSSH server on its own loopback address (127.0.0.2, .3, …) and port,
started in its own mount namespace where the profile's work dir is a private folder (and
the login user's ~/.bashrc an empty file): the boards share this host's CPU but not their
files, as separate machines would. Readiness
is polled with a deadline; every server is killed at teardown.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from edgekit.artifact import Manifest
from edgekit.tflite.describe import describe_tflite
from tests.devices.conftest import SSHD, _keygen, descendants
from tests.devices.conftest import fake_adbd  # noqa: F401 - the fixture, shared

#: the work dir of the test board profile; each board sees its own folder there
BOARD_WORKDIR = "/tmp/edgekit-farm-board"


@dataclass(frozen=True)
class FarmModels:
    folder: Path
    fp32: Path
    int8: Path
    manifest: Path          # lists fp32 and int8


@pytest.fixture(scope="session")
def farm_models(tiny_models, tmp_path_factory: pytest.TempPathFactory) -> FarmModels:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("farm_models")
    fp32 = shutil.copy(tiny_models.fp32_tflite, folder / "tiny_fp32.tflite")
    int8 = shutil.copy(tiny_models.int8_tflite, folder / "tiny_int8.tflite")
    arts = [describe_tflite(fp32, "fp32"), describe_tflite(int8, "int8")]
    manifest = Manifest(folder / "manifest.json", model="tiny.keras", model_sha256="0" * 64,
                        artifacts=tuple(arts))
    manifest.save()
    return FarmModels(folder, Path(fp32), Path(int8), manifest.path)


def write_profile(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(body)
    return path


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    """A profile folder with ``testboard`` (ssh, edgekit runner on this Python)."""
    folder = tmp_path / "profiles"
    write_profile(folder, "testboard", f"""
name = "testboard"
kind = "board"
transport = "ssh"
runner = "edgekit-runner"
python = "{sys.executable}"
workdir = "{BOARD_WORKDIR}"
big_cores = "auto"
max_temp_c = 200.0
[connection]
host = "127.0.0.1"
user = "{getpass.getuser()}"
""")
    return folder


# -- sshd boards ---------------------------------------------------------------------------

def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Board:
    """One sshd "board": reach it at host:port as user with the shared client key."""

    name: str
    host: str
    port: int
    folder: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """Power loss: the listener and every session it forked die at once (and parked
        runners, which left the sessions' process tree: without their socket they end)."""
        shutil.rmtree(self.folder / "fs" / "park", ignore_errors=True)
        sessions = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.kill()
        for pid in sessions:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    def sessions(self) -> list[int]:
        return descendants(self.proc.pid) if self.proc.poll() is None else []


@dataclass
class BoardLab:
    """Several boards sharing a client key and a known_hosts file."""

    folder: Path
    key: Path
    known_hosts: Path
    boards: list[Board]

    def device_entries(self, profile: str = "testboard") -> str:
        """``[[device]]`` tables for a lab file."""
        return "".join(
            f'\n[[device]]\nname = "{b.name}"\nprofile = "{profile}"\nhost = "{b.host}"\nport = {b.port}\n'
            f'key = "{self.key}"\nknown_hosts = "{self.known_hosts}"\n' for b in self.boards)


def start_boards(folder: Path, count: int, first_host: int = 2) -> BoardLab:
    """``count`` sshd boards on 127.0.0.<first_host>…, each in its own mount namespace."""
    if not Path(SSHD).exists() or shutil.which("unshare") is None:
        pytest.skip("needs openssh-server and util-linux unshare")
    if os.geteuid() != 0:
        pytest.skip("the sshd boards use mount namespaces: run as root (CI does)")
    folder.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    Path(BOARD_WORKDIR).mkdir(parents=True, exist_ok=True)
    key = _keygen(folder / "client_key", "edgekit-farm-client")
    authorized = folder / "authorized_keys"
    authorized.write_text(key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    known: list[str] = []
    boards: list[Board] = []
    bashrc = Path(pwd.getpwuid(os.geteuid()).pw_dir) / ".bashrc"
    empty = folder / "empty_bashrc"
    empty.write_text("")
    for i in range(count):
        host = f"127.0.0.{first_host + i}"
        bdir = folder / f"board{i}"
        (bdir / "fs").mkdir(parents=True)
        host_key = _keygen(bdir / "host_key", f"board{i}")
        log_path = bdir / "sshd.log"
        port = _free_port(host)
        (bdir / "sshd_config").write_text(
            f"Port {port}\nListenAddress {host}\nHostKey {host_key}\nPidFile none\n"
            f"AuthorizedKeysFile {authorized}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
            "MaxStartups 100\nMaxSessions 100\nLogLevel VERBOSE\n")
        # A board's own files: its work dir, and an empty ~/.bashrc (this host's runs
        # `pyenv init`, whose rehash lock a session killed mid-way would leave behind).
        script = f"mount --bind {bdir / 'fs'} {BOARD_WORKDIR}"
        # and its own identity (facts' device_id), as separate machines have
        (bdir / "machine-id").write_text(os.urandom(16).hex() + "\n")
        if Path("/etc/machine-id").is_file():
            script += f" && mount --bind {bdir / 'machine-id'} /etc/machine-id"
        if bashrc.is_file():
            script += f" && mount --bind {empty} {bashrc}"
        script += f" && exec {SSHD} -D -e -f {bdir / 'sshd_config'}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        boards.append(Board(f"board-{chr(ord('a') + i)}", host, port, bdir, proc, log_path))
        pub = host_key.with_suffix(".pub").read_text().split()
        known.append(f"[{host}]:{port} {pub[0]} {pub[1]}")
    deadline = time.monotonic() + 15
    for b in boards:
        while not _accepts(b.host, b.port):
            if b.proc.poll() is not None or time.monotonic() > deadline:
                for other in boards:
                    other.kill()
                pytest.fail(f"sshd {b.name} did not start:\n{b.log_path.read_text(errors='replace')}")
            time.sleep(0.02)
    known_hosts = folder / "known_hosts"
    known_hosts.write_text("\n".join(known) + "\n")
    return BoardLab(folder, key, known_hosts, boards)


@pytest.fixture
def boards(tmp_path: Path) -> Iterator[Callable[[int], BoardLab]]:
    """``boards(n)`` starts n sshd boards (killed at teardown)."""
    started: list[BoardLab] = []

    def start(n: int, first_host: int = 2) -> BoardLab:
        lab = start_boards(tmp_path / f"boards{len(started)}", n, first_host)
        started.append(lab)
        return lab

    yield start
    for lab in started:
        for b in lab.boards:
            b.kill()


# -- labs ----------------------------------------------------------------------------------

#: short runs: the farm is under test, not the latency
QUICK = "runs = 5\nwarmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 0.0\nmax_seconds = 60.0\n"


def phone_profile(folder: Path, adbd_root: Path) -> Path:
    """``testphone``: the fake adbd's "device" (this host), measured with edgekit's runner."""
    return write_profile(folder, "testphone", f"""
name = "testphone"
kind = "phone"
transport = "adb"
os = "linux"
runner = "edgekit-runner"
python = "{sys.executable}"
workdir = "{adbd_root / 'data/local/tmp/edgekit'}"
max_temp_c = 200.0
""")


def lab_text(name: str, profiles: Path, store: Path, devices: str, jobs: str, extra: str = "",
             defaults: str = QUICK) -> str:
    return (f'[lab]\nname = "{name}"\nstore = "{store}"\nprofiles = ["{profiles}"]\ncheck_load = false\n'
            f"{extra}\n[defaults]\n{defaults}\n{devices}\n{jobs}\n")


def job_tables(*jobs: tuple[list[str], list[str], str]) -> str:
    """``[[job]]`` tables from (models, devices, extra lines)."""
    out = ""
    for models, devices, extra in jobs:
        out += f"\n[[job]]\nmodels = {_toml_list(models)}\ndevices = {_toml_list(devices)}\n{extra}\n"
    return out


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def overlaps(intervals: list[tuple[float, float]]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Pairs of intervals that overlap (sorted by start)."""
    s = sorted(intervals)
    return [(a, b) for a, b in zip(s, s[1:]) if b[0] < a[1]]
