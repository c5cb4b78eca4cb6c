"""A lab: its file, its store, and its runs. The farm's public API.

::

    lab = Lab.load("lab.toml")
    run = lab.run(resume=True, progress=callback)
    doc = run.results()            # the results file's document

Runs are numbered per lab name. A run's jobs are inserted with stable ids
(insert-or-ignore), so a second controller started with ``resume=True`` on the same lab
file joins the same run, and a restarted one continues it: done jobs are kept, jobs whose
controller died are re-run once their lease expires (at once when that controller lived on
this host and is gone).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from ..errors import ConfigError
from ..progress import ProgressCallback
from .labfile import LabFile, PlannedJob, job_id, load_lab
from .leases import DeviceLeases, Heartbeat, new_owner
from .queue import JobQueue, latest_run, new_run, open_run, run_key
from .results import build_results
from .run_meta import record_run_meta
from .scheduler import DeviceOutcome, LabScheduler
from ..store import Store, StoreArg, open_store
from .context import FarmContext, SessionFactory, device_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabRun:
    """The outcome of :meth:`Lab.run` in this controller."""

    lab: str
    run: int
    store: Store
    counts: dict[str, int]
    devices: tuple[DeviceOutcome, ...]
    wall_seconds: float
    added: int                     # jobs this controller inserted (0 when it joined a run)

    @property
    def run_key(self) -> str:
        return run_key(self.lab, self.run)

    @property
    def ok(self) -> bool:
        """True when every job of the run is done."""
        return self.counts["done"] == sum(self.counts.values())

    def results(self) -> dict[str, Any]:
        """The results document (see :mod:`edgekit.farm.results`)."""
        devices = [{"name": d.name, "profile": d.profile, "done": d.done, "failed": d.failed,
                    "out_of_rotation": d.out_of_rotation} for d in self.devices]
        return build_results(self.store, self.lab, self.run, self.run_key, devices, self.wall_seconds)


class Lab:
    """A validated lab file bound to a results store."""

    def __init__(self, spec: LabFile, store: Store) -> None:
        self.spec = spec
        self.store = store

    @classmethod
    def load(cls, path: str | Path, store: StoreArg = None,
             profile_dirs: Iterable[str | Path] = ()) -> "Lab":
        """Validate ``path`` and open its store (``store`` > ``[lab] store`` > the default)."""
        spec = load_lab(path, profile_dirs)
        opened = open_store(store if store is not None else spec.store)
        if opened is None:
            raise ConfigError("a lab needs a store", hint="pass --store PATH or URL, or leave the default")
        return cls(spec, opened)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def jobs(self) -> tuple[PlannedJob, ...]:
        return self.spec.jobs

    def latest_run(self) -> Optional[int]:
        """The lab's newest run number in the store, or None."""
        return latest_run(self.store, self.name)

    def status(self, run: Optional[int] = None) -> dict[str, int]:
        """Jobs by state in ``run`` (the newest when None); all zero when there is none."""
        run = run if run is not None else self.latest_run()
        if run is None:
            return dict.fromkeys(("queued", "leased", "running", "done", "failed"), 0)
        return JobQueue(self.store, run_key(self.name, run)).counts()

    def choose_run(self, resume: bool = False, fresh: bool = False) -> int:
        """The run number to work on (recorded in the store); asks for ``resume`` or ``fresh``
        when the lab already ran.

        A second controller joining a run that another one is working on passes ``resume``;
        ``fresh`` always opens a run of its own, even when another controller does so at once.
        """
        if resume and fresh:
            raise ConfigError("--resume and --fresh exclude each other",
                              hint="--resume continues the last run; --fresh starts a new one")
        lab_file = str(self.spec.path.resolve())
        if fresh:
            return new_run(self.store, self.name, lab_file)
        last = self.latest_run()
        if last is None:
            open_run(self.store, self.name, 1, lab_file)
            return 1
        if resume:
            return last
        counts = self.status(last)
        raise ConfigError(
            f"lab '{self.name}' already has run {last} in store '{self.store.location}' "
            f"({counts['done']} done, {counts['failed']} failed, "
            f"{counts['queued'] + counts['leased'] + counts['running']} unfinished)",
            hint=f"pass --resume to continue run {last}, or --fresh to start run {last + 1}")

    def run(self, resume: bool = False, fresh: bool = False, progress: Optional[ProgressCallback] = None,
            session_factory: Optional[SessionFactory] = None, poll_seconds: float = 0.25) -> LabRun:
        """Measure every job of the lab on its devices; returns when none is left to run.

        Args:
            resume: continue the newest run (finished jobs are kept; running ones re-run).
            fresh: start a new run even though the lab ran before.
            progress: called (from worker threads) with ``lab.*`` events per device.
            session_factory: builds a device session for a profile (``DeviceSession``).
            poll_seconds: how often an idle worker looks for work others may free.

        Raises:
            ConfigError: the lab already ran and neither ``resume`` nor ``fresh`` was given.
            KeyboardInterrupt: re-raised after the jobs this controller held are re-queued.
        """
        start = time.monotonic()
        number = self.choose_run(resume, fresh)
        key = run_key(self.name, number)
        queue = JobQueue(self.store, key)
        added = queue.add(self.jobs)
        log.info("lab %s run %d: %d job(s), %d new", self.name, number, len(self.jobs), added)
        record_run_meta(self.store, key)      # CI commit/branch of this controller, for the dashboard
        owner = new_owner()
        ctx = FarmContext(
            store=self.store, queue=queue, leases=DeviceLeases(self.store),
            heartbeat=Heartbeat(self.store, self.spec.lease_seconds), owner=owner,
            lease_seconds=self.spec.lease_seconds, cooldown_seconds=self.spec.cooldown_seconds,
            retries=self.spec.retries, backoff_seconds=self.spec.backoff_seconds,
            unhealthy_seconds=self.spec.unhealthy_seconds, check_load=self.spec.check_load,
            health_check_seconds=self.spec.health_check_seconds,
            session_factory=session_factory or device_session,
            artifacts={job_id(key, j.key): j.artifact for j in self.jobs},
            total_jobs=sum(queue.counts().values()), progress=progress, poll_seconds=poll_seconds,
        )
        outcomes = LabScheduler(ctx, list(self.spec.devices)).run()
        return LabRun(self.name, number, self.store, queue.counts(), tuple(outcomes),
                      time.monotonic() - start, added)
