"""The local transport: this host is the device.

Commands run as argv lists through :mod:`subprocess` (no shell), in their own process
group so that a timeout kills the whole tree, grandchildren included. Files are "pushed"
and "pulled" by copying them; like the remote transports, the destination appears
complete or not at all (copy to a temporary name, then :func:`os.replace`).
"""

from __future__ import annotations

import logging
import os
import select
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from edgekit.devices.transports.base import Completed, Transport
from edgekit.devices.transports.line_stream import LineStream, StreamClosed
from edgekit.errors import DeviceError, DeviceTimeout

if TYPE_CHECKING:  # pragma: no cover
    from edgekit.devices.profile import DeviceProfile

__all__ = ["LocalTransport"]

log = logging.getLogger(__name__)

#: how long to wait for a killed process group to release its pipes
_REAP_SECONDS = 5.0


class LocalTransport(Transport):
    """Runs commands and copies files on this host.

    Args:
        device: the device name used in error messages.
        workdir: the working directory of commands, and the base of relative
            ``remote`` paths in :meth:`push` / :meth:`pull`; the current directory
            when ``None``.
    """

    @classmethod
    def from_profile(cls, profile: "DeviceProfile") -> "LocalTransport":
        """This host (the ``local`` registry entry)."""
        return cls(device=profile.name)

    @staticmethod
    def address(profile: "DeviceProfile") -> str:
        """Where the device is reached (its lease key until its facts name the physical device)."""
        import socket

        return f"local:{socket.gethostname()}"

    def __init__(self, device: str = "host", workdir: str | os.PathLike[str] | None = None) -> None:
        self.device = device
        self.workdir = Path(workdir) if workdir is not None else None

    def __repr__(self) -> str:
        return f"LocalTransport(device={self.device!r}, workdir={self.workdir!r})"

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        """Run ``argv`` on this host.

        Args:
            argv: the program and its arguments; no shell is involved.
            timeout: seconds before the process group is killed.

        Returns:
            The exit code (negative: killed by that signal; 127: program not found;
            126: not executable, as a shell would report), stdout and stderr.

        Raises:
            DeviceTimeout: the command did not finish within ``timeout``; its process
                group was killed.
        """
        args = tuple(str(a) for a in argv)
        if not args:
            raise ValueError("argv must not be empty")
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.workdir,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            return self._not_started(args, 127, f"{args[0]}: not found ({exc.strerror})", start)
        except PermissionError as exc:
            return self._not_started(args, 126, f"{args[0]}: cannot execute ({exc.strerror})", start)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_group(proc)
            self._reap(proc)
            raise DeviceTimeout(
                f"device '{self.device}': `{self.quote(args)}` did not finish within "
                f"{timeout:g} s",
                hint="raise the timeout, or check that the command does not wait for input; "
                "its process group was killed",
                device=self.device,
            ) from None
        except BaseException:
            self._kill_group(proc)
            self._reap(proc)
            raise
        return Completed(
            argv=args,
            rc=proc.returncode,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            seconds=time.monotonic() - start,
        )

    supports_streams = True

    def open_stream(self, argv: Sequence[str]) -> LineStream:
        """Start ``argv`` in its own process group with stdin/stdout/stderr pipes."""
        args = tuple(str(a) for a in argv)
        if not args:
            raise ValueError("argv must not be empty")
        try:
            proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=self.workdir, start_new_session=True)
        except OSError as exc:  # exit codes as a shell would report them (see run)
            raise StreamClosed(f"device '{self.device}': cannot start `{self.quote(args)}`: {exc.strerror or exc}",
                               hint="check the program path", device=self.device,
                               exit_code=127 if isinstance(exc, FileNotFoundError) else 126) from exc
        return _LocalLineStream(self.device, self.quote(args), proc)

    def push(self, local: Path, remote: str, timeout: float) -> None:
        """Copy ``local`` to ``remote`` (relative to ``workdir``), creating parent dirs."""
        source = self._push_source(local)
        self._copy(source, self._resolve(remote), timeout, what="push")

    def pull(self, remote: str, local: Path, timeout: float) -> None:
        """Copy ``remote`` (relative to ``workdir``) to ``local``, creating parent dirs."""
        source = self._resolve(remote)
        if not source.is_file():
            raise DeviceError(
                f"device '{self.device}': cannot pull '{remote}': no such file",
                hint="check the remote path",
                device=self.device,
            )
        self._copy(source, Path(local), timeout, what="pull")

    # -- helpers -------------------------------------------------------------------------

    def _resolve(self, remote: str) -> Path:
        path = Path(remote)
        if not path.is_absolute() and self.workdir is not None:
            path = self.workdir / path
        return path

    def _copy(self, source: Path, dest: Path, timeout: float, what: str) -> None:
        start = time.monotonic()
        # an unpredictable name, opened O_EXCL | O_NOFOLLOW: never a file or link planted there
        partial = dest.with_name(f"{dest.name}.{secrets.token_hex(6)}.partial")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            shutil.copymode(source, partial)
            os.replace(partial, dest)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise DeviceError(
                f"device '{self.device}': cannot {what} '{source}' to '{dest}': {exc.strerror or exc}",
                hint="check permissions and free space",
                device=self.device,
            ) from exc
        seconds = time.monotonic() - start
        if seconds > timeout:
            # A local copy cannot be interrupted safely mid-way; report the overrun.
            log.warning("%s of %s took %.1f s (timeout %.1f s)", what, source, seconds, timeout)

    def _not_started(self, args: tuple[str, ...], rc: int, message: str, start: float) -> Completed:
        log.debug("device %s: %s", self.device, message)
        return Completed(args, rc, "", message + "\n", time.monotonic() - start)

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes]) -> None:
        """Wait for a killed process; close pipes a runaway (setsid) grandchild holds."""
        try:
            proc.communicate(timeout=_REAP_SECONDS)
        except subprocess.TimeoutExpired:
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait(timeout=_REAP_SECONDS)


class _LocalLineStream(LineStream):
    """A local process behind pipes, in its own process group (killed as a group)."""

    def __init__(self, device: str, command: str, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(device, command)
        self.proc = proc
        assert proc.stdout is not None and proc.stderr is not None
        self._fds = {proc.stdout.fileno(): "out", proc.stderr.fileno(): "err"}

    def _recv(self, timeout: float) -> tuple[bytes, bytes] | None:
        if not self._fds:
            return b"", b""
        ready, _, _ = select.select(list(self._fds), [], [], timeout)
        if not ready:
            return None
        out, err = b"", b""
        for fd in ready:
            data = os.read(fd, 65536)
            if self._fds[fd] == "out":
                if not data:
                    self._fds.clear()  # stdout closed: the stream is over
                    return b"", b""
                out += data
            elif data:
                err += data
            else:
                del self._fds[fd]
        return (out, err) if out or err else None

    def _send(self, data: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(data)
        stdin.flush()

    def _close(self, timeout: float) -> int | None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        self._release()
        return self.proc.returncode

    def _kill(self) -> None:
        LocalTransport._kill_group(self.proc)
        try:
            self.proc.wait(timeout=_REAP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("device %s: `%s` (pid %d) did not die", self.device, self.command, self.proc.pid)
        self._release()

    def _release(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        self._fds.clear()
