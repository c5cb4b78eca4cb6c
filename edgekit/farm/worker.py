"""One worker thread per lab device: lease the device, take a job, check health, measure.

The worker drives its device only through a device session (``DeviceSession`` by
default), with its own SQLite connection. What happens on each outcome:

* success → the measurement and the job's ``done`` state are committed together;
* the model's fault (:class:`RuntimeIncompatible`, :class:`MeasurementError`, a bad
  file) → the job fails at once with the reason; the device stays in rotation;
* a transport fault (:class:`DeviceError`, its timeouts and unreachables) → the job is
  re-queued for any device of its target after an exponential back-off, at most
  ``retries`` times, then fails with the reason; the session is reopened;
* health is checked before each job (``DeviceSession.health``), except right after a job
  that ended well less than ``health_check_seconds`` ago with the device below its
  ``max_temp_c`` (the runner just reached it, the lease says it is idle, its temperatures
  after the run are known): saves 3–4 round trips per job on a busy lab;
* a failed health check → the job is re-queued at once (no attempt used). An unreachable
  device leaves the rotation for the rest of the run; a busy or too hot one rests with a
  growing back-off and is checked again, and leaves the rotation only when it has been
  unhealthy for ``unhealthy_seconds``. ``check_load = false`` ignores "busy" (labs whose
  devices share one CPU, such as the simulated one in ``examples/``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Optional

from ..devices.replicate import combine_sessions
from ..devices.session import Health
from ..errors import ConfigError, DeviceError, MeasurementError, RuntimeIncompatible
from ..measurement import Measurement
from ..progress import report
from .context import FarmContext, Session
from .events import insert_event
from .labfile import LabDevice
from .fair_share import FairShare
from .runner_guard import JobStopped, RunnerGuard
from .queue import JobRow

log = logging.getLogger(__name__)


class DeviceWorker(threading.Thread):
    """Runs the jobs its device may run until none is left (or it leaves the rotation)."""

    def __init__(self, ctx: FarmContext, device: LabDevice) -> None:
        super().__init__(name=f"edgekit-device-{device.name}", daemon=True)
        self.ctx = ctx
        self.device = device
        self.job_owner = f"{ctx.owner}/{device.name}"
        self.out_of_rotation: Optional[str] = None
        self.done = 0
        self.failed = 0
        self.current: Optional[JobRow] = None
        self._session: Optional[Session] = None
        self._session_cm: Optional[AbstractContextManager[Session]] = None
        self._cooldown_until = 0.0
        self._unhealthy_since: Optional[float] = None
        self._last_ok: Optional[tuple[float, dict[str, float]]] = None
        self._rests = 0
        self._physical: Optional[str] = None   # the physical device's lease key, during a job
        self.finished = threading.Event()       # set as its last act: the scheduler waits for it
        self.guard = RunnerGuard(device.name)   # kills runners before the device is let go
        self.fair = FairShare(ctx.leases, ctx.owner)  # takes turns with other controllers

    # -- thread ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - a crashed worker must not hang the run
            log.exception("worker of device %s crashed", self.device.name)
            self.out_of_rotation = f"controller error: {type(exc).__name__}: {exc}"
            self._requeue_current(self.out_of_rotation)
        finally:
            if self.current is not None:  # crashed mid-job: its runner must not outlive the lease
                self.guard.stop(self._session, "worker stopped")
            self._close_session()
            self._release_physical()
            self.ctx.heartbeat.drop(self.device.key)
            try:
                hold = max(0.0, self._cooldown_until - time.time())
                self.ctx.leases.release(self.device.key, self.ctx.owner, hold_seconds=hold)
            except Exception:  # noqa: BLE001 - the lease expires by itself
                log.warning("could not release the lease of %s", self.device.name, exc_info=True)
            self.ctx.store.close()
            self._emit("lab.idle", "", self.out_of_rotation or "finished")
            self.finished.set()
            self.ctx.changed.set()

    def _loop(self) -> None:
        ctx, dev = self.ctx, self.device
        waiting, idle = False, 0
        ctx.heartbeat.watch(dev.key, self._lease_lost)
        while not ctx.stop.is_set():
            seen = ctx.nudges  # read before the queue: a job ending after this is not missed
            if ctx.queue.unfinished_for(dev.name, dev.profile.name) == 0:
                return
            pause = self._cooldown_until - time.time()
            if pause > 0:
                self._emit("lab.cooldown", "", f"cool-down {pause:.1f} s")
                ctx.stop.wait(pause)
                continue
            if self.fair.away(dev.key) or not ctx.leases.acquire(dev.key, ctx.owner, ctx.lease_seconds):
                if not waiting:
                    holder = ctx.leases.holder(dev.key)
                    self._emit("lab.wait", "", f"device held by {holder.owner if holder else '?'}")
                    waiting = True
                if not self.fair.away(dev.key):
                    self.fair.want(dev.key)
                idle = self._idle(idle, seen)
                continue
            if waiting:
                self.fair.got(dev.key)
            waiting = False
            ctx.heartbeat.hold(dev.key, ctx.owner)
            job = ctx.queue.claim(dev.name, dev.profile.name, self.job_owner, ctx.lease_seconds)
            if job is None:  # what is left is leased elsewhere or backing off: free the device meanwhile
                self._close_session()  # a runner lives only under its lease (it ends before the release)
                ctx.heartbeat.drop(dev.key)
                ctx.leases.release(dev.key, ctx.owner)
                idle = self._idle(idle, seen)
                continue
            idle = 0
            self.current = job
            try:
                self._run_job(job)
            finally:
                self.current = None
                ctx.heartbeat.hold(dev.key, ctx.owner)
                ctx.changed.set()
                ctx.nudge()
            if self.out_of_rotation:
                return
            if self.fair.yield_to_others(dev.key):  # another controller waits: its turn
                self._close_session()
                ctx.heartbeat.drop(dev.key)
                ctx.leases.release(dev.key, ctx.owner)

    def _idle(self, n: int, seen: int) -> int:
        """Wait before looking again: ``poll_seconds``, doubling up to 2 s while nothing changes,
        or until a job of this controller ends (the last one ending ends the run without a tail);
        ``seen``: :attr:`FarmContext.nudges` when this worker last looked at the queue."""
        with self.ctx.wake:
            if not self.ctx.stop.is_set() and self.ctx.nudges == seen:
                self.ctx.wake.wait(min(self.ctx.poll_seconds * 2 ** n, max(self.ctx.poll_seconds, 2.0)))
        return n + 1

    # -- one job ---------------------------------------------------------------------------
    def _run_job(self, job: JobRow) -> None:
        ctx = self.ctx
        t0 = time.monotonic()
        prepare = getattr(self._open_session(), "prepare_open", None)
        if callable(prepare):  # pushed while the session opens (harmless; running them is not), and the take-over
            prepare([Path(job.artifact_path)] + ([Path(job.baseline["path"])] if job.baseline else []), take_over=True)
        unhealthy = None if self._recently_healthy() else self._health()
        health_s = time.monotonic() - t0
        if unhealthy is not None:
            ctx.queue.requeue(job.id, self.job_owner, f"device {self.device.name} unhealthy: {unhealthy.reason}")
            self._unhealthy(job, unhealthy)
            return
        self._unhealthy_since, self._rests = None, 0
        if not self._hold_physical(job):
            return
        try:
            self._start_and_measure(job, health_s)
        finally:
            self._release_physical()

    def _hold_physical(self, job: JobRow) -> bool:
        """Lease the physical device too (:func:`.identity.hold_physical`)."""
        from .identity import hold_physical

        return hold_physical(self, job)

    def _lease_lost(self, key: str) -> None:
        """From the heartbeat: the device or job lease went to someone else; stop the job now."""
        if self.current is not None:
            log.warning("device %s: lease %s lost mid-job; stopping job %s", self.device.name, key,
                        self.current.label)
            self.guard.stop(self._session, f"lease {key} lost to another controller", wait=False)

    def stop_job(self, reason: str) -> None:
        """Stop the running job, if any, killing its runner on the device (controller stopping)."""
        if self.current is not None:
            self.guard.stop(self._session, reason)

    def _release_physical(self) -> None:
        key, self._physical = self._physical, None
        if key is not None:
            self.ctx.heartbeat.drop(key)
            self.ctx.leases.release(key, self.job_owner, hold_seconds=self.ctx.cooldown_seconds)

    def _start_and_measure(self, job: JobRow, health_s: float) -> None:
        ctx = self.ctx
        attempt = ctx.queue.start(job.id, self.job_owner)
        if attempt is None:
            return  # the lease expired meanwhile and someone else took the job
        ctx.heartbeat.hold(self.device.key, ctx.owner, job.id, self.job_owner)
        self._emit("lab.job", job.label, f"attempt {attempt}")
        t1 = time.monotonic()
        self.guard.job_started()
        try:
            self.guard.take_over(self._open_session())  # no runner of a dead controller still runs
            m = self._measure(job)
            if self.guard.stopped:
                raise JobStopped(self.guard.reason)
        except Exception as exc:  # noqa: BLE001 - re-raised below unless the job was stopped
            if not (self.guard.stopped or isinstance(exc, JobStopped)):
                return self._measure_failed(job, exc, attempt)
            self._close_session()
            with ctx.store.transaction() as db:
                insert_event(db, "stopped", {"reason": self.guard.reason, "error": _reason(exc)},
                             job_id=job.id, device=self.device.name)
            self._emit("lab.stopped", job.label, self.guard.reason)
        else:
            self._measured(job, m, health_s, t1)
        self._cooldown_until = time.time() + ctx.cooldown_seconds

    def _measure_failed(self, job: JobRow, error: Exception, attempt: int) -> None:
        ctx = self.ctx
        try:
            raise error
        except (RuntimeIncompatible, MeasurementError, ConfigError) as exc:
            self._fail(job, _reason(exc))
        except DeviceError as exc:
            self._close_session()
            if ctx.stop.is_set():  # the controller stopped and killed the run: it re-queues the job itself
                return
            reason = _reason(exc)
            if attempt > ctx.retries:
                self._fail(job, f"{reason} (gave up after {attempt} attempt{'s' * (attempt > 1)})")
            else:
                delay = ctx.backoff_seconds * 2 ** (attempt - 1)
                ctx.queue.requeue(job.id, self.job_owner, reason, delay=delay)
                self._emit("lab.retry", job.label, f"{reason}; retry in {delay:g} s")
        except Exception as exc:  # noqa: BLE001 - a bug must fail the job, not hang the lab
            log.exception("job %s on %s", job.label, self.device.name)
            self._fail(job, f"internal error: {type(exc).__name__}: {exc}")
        self._cooldown_until = time.time() + ctx.cooldown_seconds

    def _measured(self, job: JobRow, m: Measurement, health_s: float, t1: float) -> None:
        ctx = self.ctx
        if m.status != "ok":
            self._fail(job, m.error or f"measurement status {m.status}")
        elif ctx.queue.complete(job.id, self.job_owner, m, {"health_seconds": round(health_s, 4),
                                                            "measure_seconds": round(time.monotonic() - t1, 4)}):
            self._last_ok = (time.time(), dict(m.facts.get("temps_after_c") or {}))
            self.done += 1
            self._emit("lab.done", job.label, f"median {m.stats.median / 1000:.3f} ms" if m.stats else "")
        else:
            log.warning("job %s: lease lost during the run; its result was discarded", job.label)

    def _unhealthy(self, job: JobRow, health: Health) -> None:
        """Unreachable: out of rotation. Busy or too hot: rest (back-off) and check again,
        out of rotation once it has been so for ``unhealthy_seconds``."""
        ctx, now = self.ctx, time.time()
        self._unhealthy_since = self._unhealthy_since or now
        self._rests += 1
        reason = health.reason
        if not health.transient or now - self._unhealthy_since >= ctx.unhealthy_seconds:
            self.out_of_rotation = reason
            with ctx.store.transaction() as db:
                insert_event(db, "out-of-rotation", {"reason": reason}, job_id=job.id, device=self.device.name)
            self._emit("lab.unhealthy", job.label, f"out of rotation: {reason}")
            return
        rest = min(ctx.backoff_seconds * 2 ** (self._rests - 1), 60.0)
        self._cooldown_until = now + rest
        with ctx.store.transaction() as db:
            insert_event(db, "resting", {"reason": reason, "seconds": rest}, job_id=job.id, device=self.device.name)
        self._emit("lab.unhealthy", job.label, f"{reason}; resting {rest:g} s")

    def _measure(self, job: JobRow) -> Measurement:
        session = self._open_session()
        artifact = self.ctx.artifact_for(job)
        if job.baseline:  # an A/B job: candidate and in-run baseline in interleaved sessions
            from .interleave import baseline_artifact, measure_ab, with_device

            pair = getattr(session, "measure_pair", None) \
                if self.device.profile.runner == "edgekit-runner" else None   # inference by inference
            m = measure_ab(lambda art: session.measure(art.path, job.settings, art), artifact,
                           baseline_artifact(self.ctx.store, job.baseline), job.settings, self.ctx.stop.wait,
                           (lambda c, b: pair(c.path, b.path, job.settings, c, b)) if pair else None)
            return with_device(m, self.device.name, self.device.profile.name)
        m = session.measure(artifact.path, job.settings, artifact)
        if job.settings.repeat > 1 and m.status == "ok":
            # a lab job's sessions run back to back on its device (cool-down between); deploy
            # interleaves sessions across models, the lab interleaves across the job's device only
            runs = [m]
            for _ in range(job.settings.repeat - 1):
                if self.ctx.stop.wait(job.settings.cooldown_seconds):
                    break
                runs.append(session.measure(artifact.path, job.settings, artifact))
            m = combine_sessions([r for r in runs if r.status == "ok"], job.settings.stability_tolerance)
        return dataclasses.replace(m, device=self.device.name, profile=self.device.profile.name)

    def _fail(self, job: JobRow, reason: str) -> None:
        if self.ctx.queue.fail(job.id, self.job_owner, reason):
            self.failed += 1
            self._emit("lab.failed", job.label, reason)

    def _recently_healthy(self) -> bool:
        """The last job ended well moments ago, and the device was cool then: that is the check."""
        if self._last_ok is None:
            return False
        at, temps = self._last_ok
        self._last_ok = None  # evidence is used once; a failed job forces a real check
        cool = all(t < self.device.profile.max_temp_c for t in temps.values())
        return cool and time.time() - at < self.ctx.health_check_seconds

    def _health(self) -> Optional[Health]:
        """None when the device may take a job, else its health (which says why not)."""
        try:
            health = self._open_session().health()
        except DeviceError as exc:
            self._close_session()
            return Health(False, _reason(exc), state="unreachable")
        if health.ok or (health.state == "busy" and not self.ctx.check_load):
            return None
        return health

    # -- session ---------------------------------------------------------------------------
    def _open_session(self) -> Session:
        if self._session is None:
            cm = self.ctx.session_factory(self.device.profile.renamed(self.device.name))
            self._session = cm.__enter__()
            self._session_cm = cm
        return self._session

    def _close_session(self) -> None:
        cm, self._session_cm, self._session = self._session_cm, None, None
        if cm is not None:
            try:
                cm.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - closing a dead link may fail any way
                log.debug("closing the session of %s failed", self.device.name, exc_info=True)

    def _requeue_current(self, reason: str) -> None:
        if self.current is not None:
            try:
                self.ctx.queue.requeue(self.current.id, self.job_owner, reason)
            except Exception:  # noqa: BLE001 - its lease expires by itself
                log.warning("could not re-queue %s", self.current.label, exc_info=True)

    def _emit(self, stage: str, job: str, message: str) -> None:
        report(self.ctx.progress, stage, self.device.name, self.done, self.ctx.total_jobs,
               f"{job}: {message}" if job and message else job or message)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    hint = getattr(exc, "hint", None)
    return f"{text} (hint: {hint})" if hint else text
