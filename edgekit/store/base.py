"""The results store's interface: what every stage reads and writes.

A backend (:mod:`edgekit.store.sqlite`, :mod:`edgekit.store.postgres`) implements the
connection part — :meth:`Store.transaction`, :meth:`Store.query`, :meth:`Store.execute_script`,
:meth:`Store.close` — and states its :class:`Dialect`; the records part (artifacts,
quality, measurements) is written once, here, in portable SQL with ``?`` placeholders.
Every backend error reaches callers as :class:`~edgekit.errors.StoreError`.
"""

from __future__ import annotations

import abc
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Protocol, Sequence

from ..artifact import Artifact
from ..errors import DuplicateRecord, StoreError
from ..measurement import Measurement, QualityRecord
from . import samples_column
from .schema import RESULTS_COLUMNS_V2, RESULTS_DDL, RESULTS_SCHEMA

LOG = logging.getLogger(__name__)

Row = Mapping[str, Any]


class Cursor(Protocol):
    """What :meth:`Transaction.execute` returns (a DB-API cursor)."""

    rowcount: int

    def fetchone(self) -> Optional[Any]: ...
    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """The handle inside ``with store.transaction() as tx``: SQL with ``?`` placeholders."""

    def execute(self, sql: str, args: Sequence[Any] = ...) -> Cursor: ...


@dataclass(frozen=True)
class Dialect:
    """What differs between backends' SQL: column types and row locking."""

    name: str
    serial_pk: str           # an auto-numbered integer primary key
    real: str                # a double-precision float
    blob: str                # bytes
    skip_locked: str         # appended to a SELECT that claims rows ("" where writers serialise)
    row_lock: str            # appended to a SELECT whose rows the transaction will update
    key_lock: str            # a statement taking a transaction-long lock on a key (``?``), or ""

    def lock_key(self, tx: "Transaction", key: str) -> None:
        """Serialise transactions on ``key`` (a device, a lab) where writers do not already."""
        if self.key_lock:
            tx.execute(self.key_lock, (key,))

    def render(self, ddl: str) -> str:
        return ddl.format(serial_pk=self.serial_pk, real=self.real, blob=self.blob)


class Store(abc.ABC):
    """The results store. Open one with :func:`edgekit.store.open_store`."""

    dialect: Dialect
    #: where the store lives, for messages ("results.sqlite", "postgresql://host/db")
    location: str
    #: the file of a file-backed store (SQLite), else None
    path: Optional[Path] = None

    # -- the backend's part ----------------------------------------------------------------
    @abc.abstractmethod
    def transaction(self) -> Any:
        """A context manager: one writer's all-or-nothing transaction, yielding a :class:`Transaction`."""

    @abc.abstractmethod
    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run one read outside any transaction; rows are mappings by column name."""

    @abc.abstractmethod
    def execute_script(self, ddl: str) -> None:
        """Run idempotent DDL statements (``CREATE … IF NOT EXISTS``)."""

    @abc.abstractmethod
    def columns(self, table: str) -> set[str]:
        """The column names of ``table`` (for migrations)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close this thread's connection (the store can still be used; it reconnects)."""

    # -- schema ------------------------------------------------------------------------------
    def ensure_schema(self, part: str, ddl: str, version: int,
                      added_columns: Sequence[tuple[str, str, str]] = ()) -> None:
        """Create ``part``'s tables and add the columns a newer version added (idempotent)."""
        done = getattr(self, "_schemas", set())
        if part in done:
            return
        self.execute_script(self.dialect.render(ddl))
        for table, column, kind in added_columns:
            if column not in self.columns(table):
                with self.transaction() as tx:  # one writer at a time: checked again under its lock
                    if column not in self.columns(table):
                        tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {self.dialect.render(kind)}")
        key = f"{part}-schema"
        rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
        if rows and int(rows[0]["value"]) > version:
            raise StoreError(f"store {self.location} was written by a newer edgekit ({part} schema "
                             f"{rows[0]['value']}, this edgekit reads up to {version})",
                             hint="upgrade edgekit (pip install -U edgekit), or use another --store")
        if not rows or rows[0]["value"] != str(version):  # a store opened to read is not written
            with self.transaction() as tx:
                tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                           "SET value=excluded.value", (key, str(version)))
        done.add(part)
        self._schemas = done

    def _init_results(self) -> None:
        self.ensure_schema("results", RESULTS_DDL, RESULTS_SCHEMA, RESULTS_COLUMNS_V2)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location}>"

    # -- artifacts ---------------------------------------------------------------------------
    def put_artifact(self, artifact: Artifact) -> None:
        """Record an artifact (idempotent: the same sha256 is stored once, updated in place)."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO artifacts (sha256, name, variant, size_bytes, path, doc, created) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT (sha256) DO UPDATE SET doc=excluded.doc, "
                "path=excluded.path, name=excluded.name",
                (artifact.sha256, artifact.name, artifact.variant, artifact.size_bytes,
                 str(artifact.path.resolve()), json.dumps(artifact.to_dict()), time.time()),
            )

    def artifact(self, sha256: str) -> Optional[Artifact]:
        rows = self.query("SELECT doc FROM artifacts WHERE sha256=?", (sha256,))
        return Artifact.from_dict(json.loads(rows[0]["doc"])) if rows else None

    def artifacts(self) -> list[Artifact]:
        rows = self.query("SELECT doc FROM artifacts ORDER BY created, name")
        return [Artifact.from_dict(json.loads(r["doc"])) for r in rows]

    # -- quality -----------------------------------------------------------------------------
    def add_quality(self, record: QualityRecord) -> None:
        """Record a quality value; re-evaluating the same (artifact, dataset, metric) updates it."""
        rec = record if record.created else QualityRecord(**{**record.to_dict(), "created": time.time()})
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO quality (artifact_sha256, dataset, metric, value, samples, doc, created) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT (artifact_sha256, dataset, metric) DO UPDATE SET "
                "value=excluded.value, samples=excluded.samples, doc=excluded.doc, created=excluded.created",
                (rec.artifact_sha256, rec.dataset, rec.metric, rec.value, rec.samples,
                 json.dumps(rec.to_dict()), rec.created),
            )

    def quality(self, artifact_sha256: Optional[str] = None, metric: Optional[str] = None) -> list[QualityRecord]:
        sql, args = "SELECT doc FROM quality WHERE 1=1", []
        for col, val in (("artifact_sha256", artifact_sha256), ("metric", metric)):
            if val:
                sql += f" AND {col}=?"
                args.append(val)
        return [QualityRecord.from_dict(json.loads(r["doc"])) for r in self.query(sql + " ORDER BY id", args)]

    # -- measurements --------------------------------------------------------------------------
    def add_measurement(self, m: Measurement, job_id: Optional[str] = None) -> None:
        """Append a measurement (never overwrites: a duplicate id is an error).

        When the store cannot take it (disk full, locked, read-only, corrupt), the
        measurement is written to a rescue file first and the :class:`StoreError` names it.
        """
        try:
            with self.transaction() as tx:
                self.insert_measurement(tx, m, job_id)
        except DuplicateRecord:
            raise
        except StoreError as err:
            raise self.rescued(err, [m]) from err

    @staticmethod
    def insert_measurement(tx: Transaction, m: Measurement, job_id: Optional[str] = None) -> None:
        """Insert inside a caller's transaction (the farm commits it with the job's state).

        ``arrived`` is the controller's clock now; ``created`` is kept for older readers.
        """
        now = time.time()
        doc, blob = samples_column.split(m)
        tx.execute(
            "INSERT INTO measurements (id, artifact_sha256, device, profile, status, median_us, job_id, doc, "
            "created, arrived, samples) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (m.id, m.artifact_sha256, m.device, m.profile, m.status,
             m.stats.median if m.stats else None, job_id, doc, now, now, blob),
        )

    def measurements(self, device: Optional[str] = None, artifact_sha256: Optional[str] = None,
                     status: Optional[str] = None, ids: Optional[Sequence[str]] = None,
                     samples: bool = True) -> list[Measurement]:
        """Measurements in the order they reached a controller (never by a device's clock).

        ``samples=False`` leaves the samples of stores that keep them in their own column
        unread (``samples_us`` and ``warmup_samples_us`` empty; ``stats`` as stored): for
        callers that need a measurement's facts, settings or statistics only."""
        sql, args = f"SELECT doc, {'samples' if samples else 'NULL AS samples'} FROM measurements WHERE 1=1", []
        for col, val in (("device", device), ("artifact_sha256", artifact_sha256), ("status", status)):
            if val:
                sql += f" AND {col}=?"
                args.append(val)
        if ids is not None:
            if not ids:
                return []
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            args.extend(ids)
        rows = self.query(sql + " ORDER BY COALESCE(arrived, created), id", args)
        return [samples_column.join(r["doc"], r["samples"]) for r in rows]

    def measurement(self, measurement_id: str) -> Optional[Measurement]:
        found = self.measurements(ids=[measurement_id])
        return found[0] if found else None

    # -- nothing measured is lost ------------------------------------------------------------
    def rescued(self, err: StoreError, measurements: Sequence[Measurement]) -> StoreError:
        """Write ``measurements`` to a rescue file and return ``err`` extended to name it."""
        from .rescue import write_rescue

        path = write_rescue(measurements, near=self.path)
        LOG.error("store %s failed; %d measurement(s) saved to %s", self.location, len(measurements), path)
        return StoreError(f"{err.message}; the measurement was saved to {path}",
                          hint=f"fix the store ({err.hint or 'see the message'}), then bring it back with "
                               f"`edgekit store import {path}`", rescued=str(path))


__all__ = ["Store", "Dialect", "Transaction", "Cursor", "Row"]
