"""The controller: one worker per device, a lease heartbeat, and the watch over both.

It starts a :class:`DeviceWorker` for every lab device and waits for them. Whenever a
worker stops it checks that every queued job still has a device in rotation that may run
it; jobs left with none fail with the devices' reasons (instead of waiting forever). On
Ctrl-C (or any error) it re-queues the jobs its workers hold and releases its leases, so
``--resume`` continues at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Optional

from ..progress import report
from .labfile import LabDevice, serves
from .context import FarmContext
from .worker import DeviceWorker

log = logging.getLogger(__name__)

#: how long workers get to notice a stop before the controller re-queues their jobs
_STOP_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class DeviceOutcome:
    """What one device did in this controller's run."""

    name: str
    profile: str
    done: int
    failed: int
    out_of_rotation: Optional[str]


class LabScheduler:
    """Runs a lab's queue on its devices until no job this controller can run is left."""

    def __init__(self, ctx: FarmContext, devices: list[LabDevice]) -> None:
        self.ctx = ctx
        self.devices = devices
        self.workers = [DeviceWorker(ctx, d) for d in devices]

    def run(self) -> list[DeviceOutcome]:
        """Run until done; returns what each device did. Re-raises KeyboardInterrupt."""
        ctx = self.ctx
        ctx.heartbeat.start()
        try:
            for w in self.workers:
                w.start()
            # a worker sets `finished` just before its thread ends (is_alive() would still be
            # true right after its last `changed`, and the run would end up to 1 s late)
            while not all(w.finished.is_set() or not w.is_alive() for w in self.workers):
                ctx.changed.wait(timeout=1.0)
                ctx.changed.clear()
                self._fail_unservable()
                self._report()
            for w in self.workers:
                w.join()
            self._fail_unservable()
            self._report()
        except BaseException:
            self._abort()
            raise
        finally:
            ctx.heartbeat.stop()
        return [DeviceOutcome(w.device.name, w.device.profile.name, w.done, w.failed, w.out_of_rotation)
                for w in self.workers]

    def _fail_unservable(self) -> None:
        """Fail queued jobs whose every possible device left the rotation."""
        q = self.ctx.queue
        for target, kind in q.queued_targets():
            serving = [w for w in self.workers if serves(w.device, target, kind)]
            if not serving or any(w.out_of_rotation is None for w in serving):
                continue
            reasons = "; ".join(f"{w.device.name}: {w.out_of_rotation}" for w in serving)
            n = q.fail_queued(target, kind, f"no healthy device for '{target}' ({reasons})")
            if n:
                log.warning("%d job(s) for %s failed: no healthy device", n, target)
                report(self.ctx.progress, "lab.failed", target, 0, None,
                       f"{n} job(s): no healthy device ({reasons})")

    def _report(self) -> None:
        counts = self.ctx.queue.counts()
        finished = counts["done"] + counts["failed"]
        report(self.ctx.progress, "lab", "jobs", finished, sum(counts.values()),
               f"{counts['queued']} queued, {counts['leased'] + counts['running']} running, "
               f"{counts['done']} done, {counts['failed']} failed")

    def _abort(self) -> None:
        """Stop the workers, give back what they hold (their results so far are kept)."""
        ctx = self.ctx
        ctx.stop.set()
        ctx.nudge()
        for w in self.workers:  # their runners die before their leases are given back
            w.stop_job("controller stopped")
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        for w in self.workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        try:
            n = ctx.queue.release_owned(ctx.owner, "controller stopped; re-run on resume")
            for d in self.devices:
                ctx.leases.release(d.key, ctx.owner)
            for w in self.workers:  # and the physical devices' leases of jobs cut short
                w._release_physical()
            log.info("stopped: %d running job(s) re-queued", n)
        except Exception:  # noqa: BLE001 - leases expire by themselves
            log.warning("could not release leases on stop", exc_info=True)

