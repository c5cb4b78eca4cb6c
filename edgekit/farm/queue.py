"""The job queue of one lab run, kept in the store's ``jobs`` table.

A job moves ``queued → leased → running → done | failed``; every transition is its own
committed transaction, guarded by the job's lease owner, so two controllers (or a dead
one and its successor) never both move the same job. The measurement and the job's
``done`` state are committed in one transaction: a job is done iff its measurement is
stored, exactly once.

What the lead's ``jobs`` table has no column for (the job's target, its place in the lab
file, the retry back-off) lives in this module's own ``farm_jobs`` table; lab runs are
numbered in ``farm_runs``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..errors import StoreError
from ..measurement import Measurement, RunSettings
from .events import insert_event
from .interleave import split_baseline
from .labfile import PlannedJob, job_id
from .leases import takeable
from ..store import Store
from .schema import ensure_farm_schema

UNFINISHED = ("queued", "leased", "running")
_MATCH = "((f.target_kind='device' AND f.target=?) OR (f.target_kind='profile' AND f.target=?))"


def run_key(lab: str, run: int) -> str:
    """The ``jobs.lab`` value of run ``run`` of lab ``lab``."""
    return f"{lab}#{run}"


def ensure_schema(store: Store) -> None:
    """Create the farm's tables (idempotent)."""
    ensure_farm_schema(store)


def latest_run(store: Store, lab: str) -> Optional[int]:
    """The highest run number of ``lab`` in the store, or None."""
    ensure_schema(store)
    rows = store.query("SELECT MAX(run) AS r FROM farm_runs WHERE lab=?", (lab,))
    return rows[0]["r"] if rows and rows[0]["r"] is not None else None


def open_run(store: Store, lab: str, run: int, lab_file: str) -> None:
    """Record run ``run`` of ``lab`` (a no-op when it exists)."""
    ensure_schema(store)
    with store.transaction() as db:
        db.execute("INSERT INTO farm_runs (lab, run, created, lab_file) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                   (lab, run, time.time(), lab_file))


def new_run(store: Store, lab: str, lab_file: str) -> int:
    """Open the next run of ``lab`` atomically: two controllers asking at once get two runs."""
    ensure_schema(store)
    with store.transaction() as db:
        store.dialect.lock_key(db, "lab-run:" + lab)
        row = db.execute("SELECT COALESCE(MAX(run), 0) + 1 AS r FROM farm_runs WHERE lab=?", (lab,)).fetchone()
        db.execute("INSERT INTO farm_runs (lab, run, created, lab_file) VALUES (?,?,?,?)",
                   (lab, row["r"], time.time(), lab_file))
    return int(row["r"])


@dataclass(frozen=True)
class JobRow:
    """A job as the store has it."""

    id: str
    position: int
    name: str
    variant: str
    artifact_sha256: str
    artifact_path: str
    target: str
    target_kind: str
    profile: str
    settings: RunSettings
    state: str
    device: Optional[str]
    lease_owner: Optional[str]
    lease_expires: Optional[float]
    attempts: int
    error: Optional[str]
    measurement_id: Optional[str]
    label: str
    #: an A/B job's in-run baseline, ``{"sha256", "path", "name", "variant"}`` (:mod:`.interleave`)
    baseline: Optional[dict[str, str]] = None


_SELECT = (
    "SELECT j.id, f.position, f.name, f.variant, j.artifact_sha256, j.artifact_path, f.target, "
    "f.target_kind, j.profile, j.settings, j.state, j.device, j.lease_owner, j.lease_expires, j.attempts, "
    "j.error, j.measurement_id, f.label FROM jobs j JOIN farm_jobs f ON f.job_id = j.id "
)


def _row(r: Any) -> JobRow:
    d = dict(r)
    settings = json.loads(d["settings"])
    d["settings"], d["baseline"] = RunSettings.from_dict(settings), settings.get("baseline")
    return JobRow(**d)


def _settings_doc(j: PlannedJob) -> dict[str, Any]:
    """The ``jobs.settings`` JSON: the run settings, and an A/B job's baseline."""
    doc: dict[str, Any] = j.settings.to_dict()
    if j.baseline is not None:
        doc["baseline"] = {"sha256": j.baseline.sha256, "path": str(j.baseline.path.resolve()),
                           "name": j.baseline.name, "variant": j.baseline.variant}
    return doc


class JobQueue:
    """The jobs of one lab run (``run_key``), shared by every controller on the store."""

    def __init__(self, store: Store, run_key: str) -> None:
        self.store = store
        self.run = run_key
        ensure_schema(store)

    # -- filling ---------------------------------------------------------------------------
    def add(self, jobs: Iterable[PlannedJob]) -> int:
        """Insert the planned jobs that are not in the store yet; returns how many were new."""
        jobs = list(jobs)
        arts = [a for j in jobs for a in (j.artifact, j.baseline) if a is not None]
        for sha, art in {a.sha256: a for a in arts}.items():
            if self.store.artifact(sha) is None:
                self.store.put_artifact(art)
        now, added = time.time(), 0
        with self.store.transaction() as db:
            for j in jobs:
                jid = job_id(self.run, j.key)
                cur = db.execute(
                    "INSERT INTO jobs (id, lab, artifact_sha256, artifact_path, profile, settings, "
                    "state, attempts, created, updated) VALUES (?,?,?,?,?,?,'queued',0,?,?) ON CONFLICT DO NOTHING",
                    (jid, self.run, j.artifact.sha256, str(j.artifact.path.resolve()), j.profile,
                     json.dumps(_settings_doc(j), sort_keys=True), now, now))
                if cur.rowcount:
                    added += 1
                    db.execute("INSERT INTO farm_jobs (job_id, run, position, target, target_kind, "
                               "name, variant, label, not_before) VALUES (?,?,?,?,?,?,?,?,0) ON CONFLICT (job_id) "
                               "DO UPDATE SET run=excluded.run, position=excluded.position, target=excluded.target, "
                               "target_kind=excluded.target_kind, name=excluded.name, variant=excluded.variant, "
                               "label=excluded.label, not_before=0",
                               (jid, self.run, j.position, j.target, j.target_kind, j.artifact.name,
                                j.artifact.variant, j.label or j.artifact.name))
        return added

    # -- a worker's transitions ---------------------------------------------------------------
    def claim(self, device: str, profile: str, owner: str, lease_seconds: float) -> Optional[JobRow]:
        """Lease the next job ``device`` may run: queued, or left by a dead or expired owner."""
        now = time.time()
        with self.store.transaction() as db:
            rows = db.execute(
                _SELECT + f"WHERE f.run=? AND {_MATCH} AND ((j.state='queued' AND f.not_before<=?) "
                "OR j.state IN ('leased','running')) ORDER BY f.position" + self.store.dialect.skip_locked,
                (self.run, device, profile, now)).fetchall()
            for r in rows:
                if r["state"] == "queued" or takeable(r["lease_owner"], r["lease_expires"], owner, now):
                    db.execute("UPDATE jobs SET state='leased', device=?, lease_owner=?, lease_expires=?, "
                               "updated=? WHERE id=?", (device, owner, now + lease_seconds, now, r["id"]))
                    detail: dict[str, Any] = {"owner": owner}
                    if r["state"] != "queued":
                        detail["took_over_from"] = r["lease_owner"]
                    insert_event(db, "leased", detail, job_id=r["id"], device=device)
                    return dataclasses.replace(_row(r), state="leased", device=device, lease_owner=owner,
                                               lease_expires=now + lease_seconds)
        return None

    def start(self, job: str, owner: str) -> Optional[int]:
        """``leased → running``; returns the attempt number, or None when the lease was lost."""
        with self.store.transaction() as db:
            cur = db.execute("UPDATE jobs SET state='running', attempts=attempts+1, updated=? "
                             "WHERE id=? AND lease_owner=? AND state='leased'", (time.time(), job, owner))
            if cur.rowcount != 1:
                return None
            row = db.execute("SELECT attempts, device FROM jobs WHERE id=?", (job,)).fetchone()
            insert_event(db, "running", {"attempt": row["attempts"]}, job_id=job, device=row["device"])
            return int(row["attempts"])

    def complete(self, job: str, owner: str, measurement: Measurement,
                 timings: Optional[dict[str, float]] = None) -> bool:
        """Store the measurement and mark the job done, together; False if the lease was lost.

        ``timings`` (seconds spent on the health check, the session's measure call …) go
        into the ``done`` event, for the farm-efficiency benchmark.
        """
        try:
            return self._complete(job, owner, measurement, timings)
        except StoreError as err:  # the measurement must not be lost with the transaction
            raise self.store.rescued(err, split_baseline(measurement)) from err

    def _complete(self, job: str, owner: str, measurement: Measurement,
                  timings: Optional[dict[str, float]]) -> bool:
        with self.store.transaction() as db:
            row = db.execute("SELECT state, lease_owner, device FROM jobs WHERE id=?" + self.store.dialect.row_lock,
                             (job,)).fetchone()
            if row is None or row["state"] != "running" or row["lease_owner"] != owner:
                insert_event(db, "discarded", {"reason": "lease lost before the result was stored",
                                               "measurement": measurement.id,
                                               # the runner's own times: a discarded run still occupied the device
                                               "started_at": measurement.started_at,
                                               "finished_at": measurement.finished_at},
                             job_id=job, device=measurement.device)
                return False
            for stored in split_baseline(measurement):  # an A/B job's baseline too, in this transaction
                Store.insert_measurement(db, stored, job)
            db.execute("UPDATE jobs SET state='done', measurement_id=?, lease_owner=NULL, lease_expires=NULL, "
                       "error=NULL, updated=? WHERE id=?", (measurement.id, time.time(), job))
            insert_event(db, "done", {"median_us": measurement.stats.median if measurement.stats else None,
                                      "runner_seconds": measurement.finished_at - measurement.started_at,
                                      **(timings or {})},
                         job_id=job, device=row["device"])
        return True

    def fail(self, job: str, owner: str, reason: str) -> bool:
        """Mark a job failed for good, with the reason."""
        return self._move(job, owner, "failed", reason, 0.0)

    def requeue(self, job: str, owner: str, reason: str, delay: float = 0.0) -> bool:
        """Put a job back in the queue (for any device of its target), not before ``delay`` s."""
        return self._move(job, owner, "queued", reason, delay)

    def _move(self, job: str, owner: str, state: str, reason: str, delay: float) -> bool:
        now = time.time()
        with self.store.transaction() as db:
            row = db.execute("SELECT device FROM jobs WHERE id=? AND lease_owner=? AND state IN ('leased','running')"
                             + self.store.dialect.row_lock, (job, owner)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE jobs SET state=?, device=CASE WHEN ?='queued' THEN NULL ELSE device END, "
                       "lease_owner=NULL, lease_expires=NULL, error=?, updated=? WHERE id=?",
                       (state, state, reason, now, job))
            if state == "queued":
                db.execute("UPDATE farm_jobs SET not_before=? WHERE job_id=?", (now + delay, job))
            insert_event(db, state if state == "failed" else "requeued",
                         {"reason": reason, "delay": delay}, job_id=job, device=row["device"])
        return True

    # -- the controller's view ---------------------------------------------------------------
    def release_owned(self, controller: str, reason: str) -> int:
        """Re-queue every leased/running job of ``controller``'s workers (on Ctrl-C)."""
        now = time.time()
        with self.store.transaction() as db:
            ids = [r["id"] for r in db.execute(
                "SELECT id FROM jobs WHERE lab=? AND state IN ('leased','running') AND lease_owner LIKE ?",
                (self.run, controller + "/%")).fetchall()]
            for jid in ids:
                db.execute("UPDATE jobs SET state='queued', device=NULL, lease_owner=NULL, lease_expires=NULL, "
                           "error=?, updated=? WHERE id=?", (reason, now, jid))
                insert_event(db, "requeued", {"reason": reason}, job_id=jid)
        return len(ids)

    def fail_queued(self, target: str, target_kind: str, reason: str) -> int:
        """Fail the queued jobs aimed at ``target`` (no device left that could run them)."""
        with self.store.transaction() as db:
            ids = [r["job_id"] for r in db.execute(
                "SELECT f.job_id FROM farm_jobs f JOIN jobs j ON j.id=f.job_id WHERE f.run=? AND f.target=? "
                "AND f.target_kind=? AND j.state='queued'", (self.run, target, target_kind)).fetchall()]
            for jid in ids:
                db.execute("UPDATE jobs SET state='failed', error=?, updated=? WHERE id=?", (reason, time.time(), jid))
                insert_event(db, "failed", {"reason": reason}, job_id=jid)
        return len(ids)

    def unfinished_for(self, device: str, profile: str) -> int:
        """How many jobs ``device`` could still run, or must wait for (others' live leases)."""
        rows = self.store.query(
            f"SELECT COUNT(*) AS n FROM jobs j JOIN farm_jobs f ON f.job_id=j.id WHERE f.run=? AND {_MATCH} "
            "AND j.state IN ('queued','leased','running')", (self.run, device, profile))
        return int(rows[0]["n"])

    def queued_targets(self) -> set[tuple[str, str]]:
        """The (target, kind) pairs that still have queued jobs."""
        rows = self.store.query(
            "SELECT DISTINCT f.target, f.target_kind FROM farm_jobs f JOIN jobs j ON j.id=f.job_id "
            "WHERE f.run=? AND j.state='queued'", (self.run,))
        return {(r["target"], r["target_kind"]) for r in rows}

    def counts(self) -> dict[str, int]:
        """Jobs of this run by state (every state present, zero when none)."""
        out = dict.fromkeys(("queued", "leased", "running", "done", "failed"), 0)
        for r in self.store.query("SELECT state, COUNT(*) AS n FROM jobs WHERE lab=? GROUP BY state", (self.run,)):
            out[r["state"]] = int(r["n"])
        return out

    def jobs(self) -> list[JobRow]:
        """Every job of this run, in lab-file order."""
        rows = self.store.query(_SELECT + "WHERE f.run=? ORDER BY f.position", (self.run,))
        return [_row(r) for r in rows]

    def measurement(self, measurement_id: str) -> Optional[Measurement]:
        return self.store.measurement(measurement_id)
