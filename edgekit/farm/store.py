"""The results store: artifacts, quality records, measurements (every sample), jobs, leases.

SQLite in WAL mode is the embedded default. Results are append-only; every write is its
own committed transaction, so a killed process loses nothing already written. Each thread
gets its own connection (SQLite connections are not shared across threads).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from ..artifact import Artifact
from ..errors import ConfigError
from ..measurement import Measurement, QualityRecord

DEFAULT_PATH = Path(".edgekit") / "results.sqlite"
SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (
  sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, variant TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  path TEXT NOT NULL, doc TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS quality (
  id INTEGER PRIMARY KEY AUTOINCREMENT, artifact_sha256 TEXT NOT NULL, dataset TEXT NOT NULL,
  metric TEXT NOT NULL, value REAL NOT NULL, samples INTEGER NOT NULL, doc TEXT NOT NULL,
  created REAL NOT NULL, UNIQUE (artifact_sha256, dataset, metric));
CREATE TABLE IF NOT EXISTS measurements (
  id TEXT PRIMARY KEY, artifact_sha256 TEXT NOT NULL, device TEXT NOT NULL, profile TEXT NOT NULL,
  status TEXT NOT NULL, median_us REAL, job_id TEXT, doc TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS measurements_by_artifact ON measurements (artifact_sha256, device);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, lab TEXT NOT NULL, artifact_sha256 TEXT NOT NULL, artifact_path TEXT NOT NULL,
  profile TEXT NOT NULL, settings TEXT NOT NULL, state TEXT NOT NULL, device TEXT,
  lease_owner TEXT, lease_expires REAL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
  measurement_id TEXT, created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_lab ON jobs (lab, state);
CREATE TABLE IF NOT EXISTS device_leases (
  device TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL, job_id TEXT);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, job_id TEXT, device TEXT,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
"""


def default_store_path() -> Path:
    """``$EDGEKIT_STORE`` or ``.edgekit/results.sqlite`` in the current folder."""
    return Path(os.environ.get("EDGEKIT_STORE") or DEFAULT_PATH)


class Store:
    """The SQLite results store. Safe to use from several threads and processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.timeout = timeout
        self._local = threading.local()
        if self.path.exists() and self.path.is_dir():
            raise ConfigError(f"store '{self.path}' is a folder", hint="pass a .sqlite file path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self.connect()
            db.executescript(_DDL)  # commits by itself; every statement is idempotent
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"store '{self.path}' is not an edgekit SQLite store: {exc}",
                hint="pass another --store path, or move the file away",
            ) from exc

    # -- connections ---------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use :meth:`transaction` to group writes)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                 check_same_thread=True)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=%d" % int(self.timeout * 1000))
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: one writer at a time, all or nothing."""
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- artifacts -----------------------------------------------------------------
    def put_artifact(self, artifact: Artifact) -> None:
        """Record an artifact (idempotent: the same sha256 is stored once, updated in place)."""
        doc = json.dumps(artifact.to_dict())
        with self.transaction() as db:
            db.execute(
                "INSERT INTO artifacts (sha256, name, variant, size_bytes, path, doc, created) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT(sha256) DO UPDATE SET doc=excluded.doc, "
                "path=excluded.path, name=excluded.name",
                (artifact.sha256, artifact.name, artifact.variant, artifact.size_bytes,
                 str(artifact.path.resolve()), doc, time.time()),
            )

    def artifact(self, sha256: str) -> Optional[Artifact]:
        row = self.connect().execute("SELECT doc FROM artifacts WHERE sha256=?", (sha256,)).fetchone()
        return Artifact.from_dict(json.loads(row["doc"])) if row else None

    def artifacts(self) -> list[Artifact]:
        rows = self.connect().execute("SELECT doc FROM artifacts ORDER BY created, name").fetchall()
        return [Artifact.from_dict(json.loads(r["doc"])) for r in rows]

    # -- quality -------------------------------------------------------------------
    def add_quality(self, record: QualityRecord) -> None:
        rec = record if record.created else QualityRecord(**{**record.to_dict(), "created": time.time()})
        with self.transaction() as db:
            db.execute(
                "INSERT INTO quality (artifact_sha256, dataset, metric, value, samples, doc, created) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT(artifact_sha256, dataset, metric) DO UPDATE SET "
                "value=excluded.value, samples=excluded.samples, doc=excluded.doc, created=excluded.created",
                (rec.artifact_sha256, rec.dataset, rec.metric, rec.value, rec.samples,
                 json.dumps(rec.to_dict()), rec.created),
            )

    def quality(self, artifact_sha256: Optional[str] = None, metric: Optional[str] = None) -> list[QualityRecord]:
        sql, args = "SELECT doc FROM quality WHERE 1=1", []
        if artifact_sha256:
            sql += " AND artifact_sha256=?"
            args.append(artifact_sha256)
        if metric:
            sql += " AND metric=?"
            args.append(metric)
        rows = self.connect().execute(sql + " ORDER BY id", args).fetchall()
        return [QualityRecord.from_dict(json.loads(r["doc"])) for r in rows]

    # -- measurements --------------------------------------------------------------
    def add_measurement(self, m: Measurement, job_id: Optional[str] = None) -> None:
        """Append a measurement (never overwrites: a duplicate id is an error)."""
        with self.transaction() as db:
            self.insert_measurement(db, m, job_id)

    @staticmethod
    def insert_measurement(db: sqlite3.Connection, m: Measurement, job_id: Optional[str] = None) -> None:
        """Insert inside a caller's transaction (the farm commits it with the job's state)."""
        db.execute(
            "INSERT INTO measurements (id, artifact_sha256, device, profile, status, median_us, job_id, doc, created) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (m.id, m.artifact_sha256, m.device, m.profile, m.status,
             m.stats.median if m.stats else None, job_id, json.dumps(m.to_dict()), m.finished_at or time.time()),
        )

    def measurements(self, device: Optional[str] = None, artifact_sha256: Optional[str] = None,
                     status: Optional[str] = None) -> list[Measurement]:
        sql, args = "SELECT doc FROM measurements WHERE 1=1", []
        for col, val in (("device", device), ("artifact_sha256", artifact_sha256), ("status", status)):
            if val:
                sql += f" AND {col}=?"
                args.append(val)
        rows = self.connect().execute(sql + " ORDER BY created", args).fetchall()
        return [Measurement.from_dict(json.loads(r["doc"])) for r in rows]

    def log_event(self, kind: str, detail: dict[str, Any] | str, job_id: Optional[str] = None,
                  device: Optional[str] = None) -> None:
        text = detail if isinstance(detail, str) else json.dumps(detail)
        with self.transaction() as db:
            db.execute("INSERT INTO events (at, job_id, device, kind, detail) VALUES (?,?,?,?,?)",
                       (time.time(), job_id, device, kind, text))
