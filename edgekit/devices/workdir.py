"""The device's work dir: where models, binaries and results live, addressed by content.

Layout under the profile's ``workdir``::

    models/<sha256>.tflite          pushed once per content, whatever the local file is called
    bin/edgekit_runner-<sha12>.py   the runner script, one per version of its bytes
    bin/<name>-<sha12>              benchmark_model binaries
    results/<uuid>.json             one per run, removed after it is pulled

Names on the device never come from the user: a local file called ``my "best" model.tflite``
becomes ``models/<sha256>.tflite``, and :meth:`RemoteWorkdir.path` refuses any component
that could leave the work dir (``..``, ``/``, NUL). Every command is an argv list, quoted
once by the transport. A push goes to ``<name>.partial`` and is renamed into place, so a
push cut half-way never leaves a complete-looking file; before pushing, ``stat`` + (where the
device has it) ``sha256sum`` tell whether the same bytes are already there.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..artifact import sha256_file
from ..errors import ConfigError, DeviceError
from .transports.base import Transport

log = logging.getLogger(__name__)

__all__ = ["RemoteWorkdir", "PushResult", "check_workdir", "safe_component"]

SUBDIRS = ("models", "bin", "results")


@dataclass(frozen=True)
class PushResult:
    """Where a file is on the device and whether this call had to copy it."""

    remote: str
    pushed: bool
    sha256: str
    size_bytes: int


def safe_component(name: str, what: str = "name") -> str:
    """Return ``name`` if it is one harmless path component, else raise ConfigError."""
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\x00" in name:
        raise ConfigError(f"{what} {name!r} would leave the device's work dir",
                          hint="names on the device are single path components without '/' or '..'")
    return name


def check_workdir(root: str, device: str) -> str:
    """Validate a profile's work dir: absolute (or ``~/…``), normalised, not a system root.

    ``~/…`` (the device user's home) and ``{uid}`` (their numeric id) are resolved on the
    device (:mod:`.private_dir`)."""
    home = root.startswith("~/") if isinstance(root, str) else False
    if not (root.startswith("/") or home) or "\x00" in root:
        raise ConfigError(f"device '{device}': workdir {root!r} must be an absolute path or start with '~/'",
                          hint="e.g. ~/.cache/edgekit/work on boards, /data/local/tmp/edgekit-{uid} on phones")
    parts = [p for p in root[1 if home else 0:].split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigError(f"device '{device}': workdir {root!r} contains '.' or '..'",
                          hint="write the work dir as a plain path, e.g. /data/local/tmp/edgekit-{uid}")
    if not home and len(parts) < 2 and (not parts or parts[0] in ("tmp", "data", "home", "root", "etc", "usr", "var")):
        raise ConfigError(f"device '{device}': workdir {root!r} is too close to the file system root",
                          hint="use a folder of its own, e.g. ~/.cache/edgekit/work")
    if home and not parts:
        raise ConfigError(f"device '{device}': workdir {root!r} is the home folder itself",
                          hint="use a folder of its own, e.g. ~/.cache/edgekit/work")
    return ("~/" if home else "/") + "/".join(parts)


class RemoteWorkdir:
    """Content-addressed files in one device's work dir, through one transport."""

    def __init__(self, transport: Transport, root: str, device: str, timeout: float = 60.0) -> None:
        self.transport = transport
        self.device = device
        self.spec = check_workdir(root, device)
        self._root: Optional[str] = None        # the absolute path on the device, once ensured
        self.timeout = timeout
        self._ready = False
        self._has_sha256sum: Optional[bool] = None
        self._known: dict[str, str] = {}       # remote path -> sha256 verified in this process
        self._lock = threading.Lock()

    # -- paths -----------------------------------------------------------------------------
    @property
    def root(self) -> str:
        """The work dir's absolute path on the device (created and checked on first use)."""
        if self._root is None:
            self.ensure()
        assert self._root is not None
        return self._root

    def path(self, *parts: str) -> str:
        """``<root>/<part>/…``; every part must be a single safe component."""
        for p in parts:
            safe_component(p, what="remote name")
        joined = posixpath.join(self.root, *parts)
        if posixpath.normpath(joined) != joined or not (joined + "/").startswith(self.root + "/"):
            raise ConfigError(f"remote path {joined!r} would leave the work dir {self.root!r}")
        return joined

    def model_path(self, sha256: str) -> str:
        return self.path("models", f"{_hex(sha256)}.tflite")

    def new_result_path(self) -> str:
        return self.path("results", f"{uuid.uuid4().hex}.json")

    # -- commands --------------------------------------------------------------------------
    def _run(self, argv: list[str], what: str, timeout: Optional[float] = None) -> str:
        done = self.transport.run(argv, timeout=timeout or self.timeout)
        if not done.ok:
            raise DeviceError(
                f"device '{self.device}': {what} failed (exit {done.rc}): {(done.stderr or done.stdout).strip()[-400:]}",
                hint=f"check that {self.spec} is writable on the device", device=self.device)
        return done.stdout

    def ensure(self) -> None:
        """Create the work dir and its sub-folders, private to the device user (0700, owner
        checked; :mod:`.private_dir`), once per instance."""
        if self._ready:
            return
        from .private_dir import ensure_private_dir

        self._root = ensure_private_dir(self.transport, self.spec, SUBDIRS, self.device, self.timeout)
        self._ready = True

    def opened(self, root: str) -> None:
        """The work dir was created and checked by the session's opening command (the same
        :data:`~edgekit.devices.private_dir.SCRIPT`, :mod:`.session_open`), at ``root``."""
        with self._lock:
            self._root, self._ready = root, True

    def remote_sha256(self, remote: str) -> Optional[str]:
        """The sha256 of ``remote`` on the device; None if the device has no ``sha256sum``."""
        if self._has_sha256sum is False:
            return None
        done = self.transport.run(["sha256sum", remote], timeout=self.timeout)
        if done.rc == 127 or (done.rc != 0 and "sha256sum" in done.stderr and "not found" in done.stderr):
            self._has_sha256sum = False
            log.info("device %s has no sha256sum: content checks use the size only", self.device)
            return None
        self._has_sha256sum = True
        if not done.ok:
            return ""
        return done.stdout.split()[0].lower() if done.stdout.split() else ""

    def holds(self, remote: str, sha256: str, size_bytes: int) -> bool:
        """True if ``remote`` exists with this sha256 (or, without ``sha256sum``, this size)."""
        if self._known.get(remote) == sha256:
            return True
        remote_sha = self.remote_sha256(remote)
        if remote_sha is None:  # no sha256sum on the device: compare sizes
            done = self.transport.run(["stat", "-c", "%s", remote], timeout=self.timeout)
            try:
                same = done.ok and int(done.stdout.strip().splitlines()[-1]) == size_bytes
            except (ValueError, IndexError):
                same = False
            if not same:
                return False
        elif remote_sha != sha256:
            return False
        self._known[remote] = sha256
        return True

    def push_content(self, local: Path, subdir: str, name: str, sha256: Optional[str] = None,
                     executable: bool = False, timeout: Optional[float] = None) -> PushResult:
        """Push ``local`` to ``<subdir>/<name>`` unless the same bytes are already there."""
        local = Path(local)
        if not local.is_file():
            raise ConfigError(f"cannot push '{local}': not a file", hint="check the path")
        sha = sha256 or sha256_file(local)
        size = local.stat().st_size
        remote = self.path(subdir, name)
        with self._lock:
            self.ensure()
            if self.holds(remote, sha, size):
                log.debug("device %s already holds %s", self.device, remote)
                return PushResult(remote, False, sha, size)
            partial = f"{remote}.{uuid.uuid4().hex[:12]}.partial"  # unpredictable, in a 0700 folder
            push_timeout = timeout or max(self.timeout, 30.0 + size / 1e6)  # ≥ 1 MB/s
            self.transport.push(local, partial, timeout=push_timeout)
            if executable:
                self._run(["chmod", "755", partial], f"chmod of {partial}")
            self._run(["mv", "-f", partial, remote], f"renaming {partial}")
            if not self.holds(remote, sha, size):
                raise DeviceError(f"device '{self.device}': {remote} does not match '{local}' after the push",
                                  hint="the device's storage may be full or failing", device=self.device)
            return PushResult(remote, True, sha, size)

    def push_model(self, local: Path, sha256: Optional[str] = None) -> PushResult:
        sha = sha256 or sha256_file(local)
        return self.push_content(local, "models", f"{_hex(sha)}.tflite", sha)

    def remove(self, *remotes: str) -> None:
        """Remove files inside the work dir (best effort; failures are logged)."""
        for r in remotes:
            if not (r + "/").startswith(self.root + "/") or ".." in r.split("/"):
                raise ConfigError(f"refusing to remove {r!r}: outside the work dir {self.root!r}")
        if not remotes:
            return
        try:
            self.transport.run(["rm", "-f", *remotes], timeout=self.timeout)
        except DeviceError as exc:
            log.warning("device %s: could not remove %s: %s", self.device, remotes, exc)
        for r in remotes:
            self._known.pop(r, None)


def _hex(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ConfigError(f"{sha256!r} is not a sha256 hex digest")
    return sha256
