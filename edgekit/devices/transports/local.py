"""The local transport: this host is the device.

Commands run as argv lists through :mod:`subprocess` (no shell), in their own process
group so that a timeout kills the whole tree, grandchildren included. Files are "pushed"
and "pulled" by copying them; like the remote transports, the destination appears
complete or not at all (copy to a temporary name, then :func:`os.replace`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence

from edgekit.devices.transports.base import Completed, Transport
from edgekit.errors import DeviceError, DeviceTimeout

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
        partial = dest.with_name(dest.name + ".partial")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, partial)
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
