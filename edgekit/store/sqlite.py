"""The SQLite backend: one file, WAL mode, the embedded default.

Every write is its own ``BEGIN IMMEDIATE … COMMIT`` transaction (one writer at a time, all or
nothing), so a killed process loses nothing already written. Each thread gets its own
connection (SQLite connections are not shared across threads). Every ``sqlite3`` error
becomes a :class:`~edgekit.errors.StoreError` that names the file and says what to do.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import DuplicateRecord, StoreError
from .base import Dialect, Row, Store

DIALECT = Dialect(name="sqlite", serial_pk="INTEGER PRIMARY KEY AUTOINCREMENT", real="REAL", blob="BLOB",
                  skip_locked="", row_lock="", key_lock="")  # BEGIN IMMEDIATE serialises every writer


def _error(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return DuplicateRecord(f"store '{path}' refused a duplicate record: {text}",
                          hint="results are append-only; this record is already stored")
    if "locked" in text or "busy" in text:
        hint = "another process held the store too long; retry, or give each lab its own --store"
    elif "readonly" in text or "read-only" in text:
        hint = f"make '{path}' and its folder writable, or pass another --store"
    elif "disk" in text and "full" in text or "disk I/O" in text:
        hint = f"free space on the disk that holds '{path}'"
    elif "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(f"store '{path}' is not an edgekit SQLite store, or is damaged: {text}",
                          hint=f"move '{path}' away (or try `sqlite3 {path} .recover`) and pass another --store")
    else:
        hint = "see the message; pass another --store to keep working"
    return StoreError(f"store '{path}' failed: {text}", hint=hint)


class SqliteStore(Store):
    """The results store in one SQLite file. Safe to use from several threads and processes."""

    dialect = DIALECT

    def __init__(self, path: str | os.PathLike[str], timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.timeout = timeout
        self._local = threading.local()
        if self.path.is_dir():
            raise StoreError(f"store '{self.path}' is a folder", hint="pass a .sqlite file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"store '{self.path}': cannot create its folder: {exc.strerror}",
                             hint="pass a --store path in a writable folder") from exc
        self._init_results()

    def connect(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; :meth:`transaction` groups writes)."""
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                     check_same_thread=True)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA busy_timeout=%d" % int(self.timeout * 1000))
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise _error(self.path, exc) from exc
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: one writer at a time, all or nothing."""
        db = self.connect()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from exc
        try:
            yield db
        except sqlite3.Error as exc:
            self._rollback(db)
            raise _error(self.path, exc) from exc
        except BaseException:
            self._rollback(db)
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(db)
            raise _error(self.path, exc) from exc

    @staticmethod
    def _rollback(db: sqlite3.Connection) -> None:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # nothing to roll back (the failing statement ended the transaction)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        try:
            return self.connect().execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from exc

    def execute_script(self, ddl: str) -> None:
        try:
            self.connect().executescript(ddl)  # commits by itself; every statement is idempotent
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from exc

    def columns(self, table: str) -> set[str]:
        return {r["name"] for r in self.query(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
