"""The emulated aarch64 board: a Debian arm64 root behind a real sshd on loopback.

``scripts/arm64-root.sh`` builds the root once (under ``$EDGEKIT_ARM64_DIR``, default
``/opt/edgekit-arm64``). The fixture starts the host's OpenSSH server with throwaway keys and
``ChrootDirectory`` set to that root: every command a client runs is the root's arm64
``/bin/bash``, ``uname`` and ``python3``, executed by qemu-aarch64 through binfmt_misc, so the
device says ``aarch64`` and runs the aarch64 LiteRT wheel. The host's sshd does the crypto at
native speed (an arm64 sshd under qemu would emulate every key exchange), and internal-sftp
serves the file transfers inside the chroot. Tests that use it skip, naming the reason, where
the root is not built, binfmt is off, or this is not root (ChrootDirectory needs root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from edgekit.devices.profile import DeviceProfile, profile_from_dict
from edgekit.devices.transports.ssh import SshTransport
from tests.devices.conftest import SSHD, SshServer, _keygen, free_port, wait_for_port

ARM64_DIR = Path(os.environ.get("EDGEKIT_ARM64_DIR", "/opt/edgekit-arm64"))
SHIPPED_PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
#: the python of the root's tflite-runtime 2.14 venv (arm64), if the build could install it
TFLITE_214 = "/opt/tflite-runtime-2.14/bin/python"
_BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")


def board_problem(base: Path = ARM64_DIR) -> Optional[str]:
    """Why the emulated board cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "the emulated arm64 board needs root (sshd ChrootDirectory)"
    if not (base / "complete").is_file() or not (base / "root" / "usr" / "bin" / "python3").exists():
        try:
            why = " (last build: " + (base / "failed").read_text().strip() + ")"
        except OSError:
            why = ""
        return f"the arm64 root is not built in {base}: run `bash scripts/arm64-root.sh` as root{why}"
    try:
        enabled = _BINFMT.read_text().startswith("enabled")
    except OSError:
        enabled = False
    if not enabled:
        return "qemu-aarch64 is not enabled in binfmt_misc: run `bash scripts/arm64-root.sh` as root"
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        return "OpenSSH server not installed (apt-get install openssh-server)"
    return None


@dataclass
class Arm64Board:
    """A running emulated board: ``server`` to reach it, ``root`` where its files are on the host."""

    server: SshServer
    root: Path
    profiles_dir: Path

    def profile_doc(self, base: str = "rpi4", **fields: Any) -> dict[str, Any]:
        """The shipped profile ``base`` with its connection pointed at this board, plus ``fields``."""
        doc = tomllib.loads((SHIPPED_PROFILES / f"{base}.toml").read_text())
        doc["connection"] = {"host": self.server.host, "port": self.server.port, "user": self.server.user,
                             "key": str(self.server.key_path), "known_hosts": str(self.server.known_hosts)}
        doc.update(fields)
        return doc

    def profile(self, base: str = "rpi4", **fields: Any) -> DeviceProfile:
        doc = self.profile_doc(base, **fields)
        return profile_from_dict(doc, source=f"arm64 board ({base})", name=doc.get("name", base))

    def write_profile(self, base: str = "rpi4", **fields: Any) -> Path:
        """``profiles_dir/<name>.toml``: for ``--profiles DIR`` on the command line."""
        doc = self.profile_doc(base, **fields)
        name = doc.setdefault("name", base)
        path = self.profiles_dir / f"{name}.toml"
        path.write_text(_toml(doc))
        return path

    def host_path(self, device_path: str) -> Path:
        """Where a path on the board (absolute, or ``~/…`` of its login user root) is on this host."""
        if device_path.startswith("~/"):
            device_path = "/root/" + device_path[2:]
        return self.root / device_path.lstrip("/")

    def transport(self) -> SshTransport:
        """A transport to the board (close it when done)."""
        return SshTransport.from_profile(self.profile())


def _toml(doc: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    top = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{kk} = {value(vv)}" for kk, vv in v.items())
              for k, v in doc.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


def start_board(folder: Path, base: Path = ARM64_DIR) -> SshServer:
    """The host's sshd on a free loopback port, chrooted into the arm64 root, key auth only."""
    folder.mkdir(parents=True, exist_ok=True)
    host_key = _keygen(folder / "host_key", "edgekit-arm64-host")
    client_key = _keygen(folder / "client_key", "edgekit-arm64-client")
    authorized = folder / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log_path = folder / "sshd.log"
    root = base / "root"
    for _attempt in range(3):
        port = free_port()
        config = folder / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile none\n"
            f"AuthorizedKeysFile {authorized}\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
            f"ChrootDirectory {root}\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\n"
            "MaxStartups 100\nMaxSessions 100\n")
        with log_path.open("ab") as log:
            proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait_for_port(port, 10, alive=lambda: proc.poll() is None):
            break
        proc.kill()
        proc.wait(timeout=10)
    else:
        raise RuntimeError(f"sshd did not start:\n{log_path.read_text(errors='replace')}")
    known_hosts = folder / "known_hosts"
    key_type, key_b64 = host_key.with_suffix(".pub").read_text().split()[:2]
    line = f"[127.0.0.1]:{port} {key_type} {key_b64}"
    known_hosts.write_text(line + "\n")
    return SshServer("127.0.0.1", port, "root", client_key, known_hosts, line, folder, proc, log_path)


@pytest.fixture(scope="module", name="arm64_board")
def arm64_board_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arm64Board]:
    """The emulated Raspberry Pi 4 (skips with the reason when it cannot run here)."""
    problem = board_problem()
    if problem:
        pytest.skip(problem)
    folder = tmp_path_factory.mktemp("arm64-board")
    server = start_board(folder / "sshd")
    profiles = folder / "profiles"
    profiles.mkdir()
    try:
        yield Arm64Board(server, ARM64_DIR / "root", profiles)
    finally:
        server.kill()
