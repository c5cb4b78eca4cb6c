"""A worker's guard against overlapping runs: kill its runners before it lets go of a device.

* **Taking a device** (the first job of each device session): every edgekit runner of another
  session still alive on the device is killed first (a controller that died with SIGKILL,
  or whose SSH link dropped, leaves its runner running: sshd and adbd do not kill it).
* **Stopping** (Ctrl-C, a crashed worker, a lease lost to another controller): the worker's
  own in-flight runner is killed on the device, from another thread if the worker is
  blocked in it, before the lease is released; the job's result, if any, is dropped
  (:meth:`RunnerGuard.stopped` makes the worker treat the run as discarded).

Killing goes through the device session's :meth:`~edgekit.devices.session.DeviceSession.kill_runners`
(the work dir's runner ledger, :mod:`edgekit.devices.runner_ledger`); a session without it
(a test double, a ``benchmark_model`` phone) is left alone.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

log = logging.getLogger(__name__)

__all__ = ["JobStopped", "RunnerGuard"]


class JobStopped(Exception):
    """The job was stopped from outside (lease lost, controller stopping): not the model's fault."""


class RunnerGuard:
    """One per worker: what it must kill, and whether its current job was stopped."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.reason = ""
        self._stopped = threading.Event()
        self._taken: Optional[int] = None     # id() of the session whose device was taken over
        self._lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def job_started(self) -> None:
        self._stopped.clear()
        self.reason = ""

    def take_over(self, session: Any) -> list[int]:
        """Before the first job of ``session``: kill other sessions' runners on the device."""
        with self._lock:
            if self._taken == id(session):
                return []
            killed = self._kill(session, mine=False)
            self._taken = id(session)
            return killed

    def stop(self, session: Any, reason: str, wait: bool = True) -> None:
        """Stop the running job: kill this session's runners on the device (in a thread when
        ``wait`` is False, e.g. from the lease heartbeat)."""
        self.reason = reason
        self._stopped.set()
        if session is None:
            return
        if wait:
            self._kill(session, mine=True)
        else:
            threading.Thread(target=self._kill, args=(session, True), daemon=True,
                             name=f"edgekit-stop-{self.device}").start()

    def _kill(self, session: Any, mine: bool) -> list[int]:
        kill = getattr(session, "kill_runners", None)
        if not callable(kill):
            return []
        try:
            return list(kill(mine=mine))
        except Exception:  # noqa: BLE001 - an unreachable device cannot run anything either
            log.warning("device %s: could not kill %s runners", self.device, "own" if mine else "other",
                        exc_info=True)
            return []
