"""The PostgreSQL backend: one server shared by every controller on every host.

``PostgresStore("postgresql://user:password@host:port/db")`` (psycopg 3). Each thread gets
its own connection, in autocommit mode: a read is one statement, and
:meth:`PostgresStore.transaction` groups writes in an explicit transaction (``BEGIN`` …
``COMMIT``, READ COMMITTED). Writers that must not interleave say so with row locks
(``SELECT … FOR UPDATE [SKIP LOCKED]``) and transaction-long advisory locks on a key
(:meth:`~edgekit.store.base.Dialect.lock_key`), which the dialect below supplies.

SQL arrives with ``?`` placeholders (the store's portable form) and is translated once
per statement text to psycopg's ``%s`` (a literal ``%`` doubled). Every psycopg error
becomes a :class:`~edgekit.errors.StoreError` whose message names the URL without its
password; a unique violation is a :class:`~edgekit.errors.DuplicateRecord`.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator, Optional, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import DuplicateRecord, StoreError
from .base import Dialect, Row, Store

LOG = logging.getLogger(__name__)

DIALECT = Dialect(name="postgresql", serial_pk="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION", blob="BYTEA",
                  skip_locked=" FOR UPDATE SKIP LOCKED", row_lock=" FOR UPDATE",
                  key_lock="SELECT pg_advisory_xact_lock(hashtext(?))")

#: the advisory lock every process takes while it creates or migrates tables
SCHEMA_LOCK = "edgekit:schema"

#: connections opened before a fork: never closed in the child (that would end the parent's)
_FORKED: list[Any] = []


def redact(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***`` — safe for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://(unparsable URL)"


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """``?`` placeholders → ``%s`` and ``%`` → ``%%``; ``?`` in quotes and comments stays as it is."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":  # a string literal or a quoted identifier ('' and "" escapes re-enter)
            end = sql.find(c, i + 1)
            end = n if end < 0 else end + 1
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        else:
            out.append("%s" if c == "?" else "%%" if c == "%" else c)
            i += 1
    return "".join(out)


def _pg_isready(url: str) -> str:
    """The ``pg_isready`` command that checks the server of ``url``."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    return f"pg_isready -h {host or 'localhost'} -p {port or 5432}"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError("the PostgreSQL store needs psycopg 3, which is not installed",
                         hint="pip install 'psycopg[binary]>=3.1' (edgekit's dependencies include it)") from exc
    return psycopg


def _error(where: str, exc: Exception, connecting: bool = False, secret: Optional[str] = None) -> StoreError:
    """A StoreError for a psycopg error (``where`` is the redacted URL; ``secret`` never appears)."""
    errors = _psycopg().errors
    text = " ".join(str(exc).split()) or type(exc).__name__
    for hidden in {secret, unquote(secret or "")} - {None, ""}:
        text = text.replace(hidden, "***")
    if isinstance(exc, errors.UniqueViolation):
        return DuplicateRecord(f"store {where} refused a duplicate record: {text}",
                               hint="results are append-only; this record is already stored")
    low = text.lower()
    if connecting or isinstance(exc, errors.OperationalError) and "connect" in low:
        if "password" in low or "authentication" in low:
            hint = "check the user and password in the URL (or ~/.pgpass, $PGPASSWORD) and pg_hba.conf"
        elif "does not exist" in low:
            hint = "create the database (createdb NAME) or the role, or fix the URL"
        else:
            hint = (f"check that the server runs and listens there: `{_pg_isready(where)}` "
                    "(and the host, port and firewall in the URL), or pass another --store")
        return StoreError(f"cannot connect to store {where}: {text}", hint=hint)
    if isinstance(exc, (errors.SerializationFailure, errors.DeadlockDetected, errors.LockNotAvailable)):
        hint = "another controller held the same rows; retry"
    elif isinstance(exc, (errors.DiskFull, errors.OutOfMemory, errors.InsufficientResources)):
        hint = "the database server is out of space or memory: free some, then retry"
    elif isinstance(exc, errors.InsufficientPrivilege):
        hint = "grant the store's role CREATE and write rights on the database, or use another role"
    elif isinstance(exc, (errors.UndefinedTable, errors.UndefinedColumn)):
        hint = "the database holds no (or an older) edgekit store: open it with this edgekit once to create it"
    elif isinstance(exc, errors.OperationalError):
        hint = "the connection to the server was lost; check the server, then retry (edgekit reconnects)"
    else:
        hint = "see the message; pass another --store to keep working"
    return StoreError(f"store {where} failed: {text}", hint=hint)


class _Transaction:
    """``with store.transaction() as tx``: ``tx.execute(sql, args)`` with ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self._conn.execute(to_psycopg(sql), tuple(args))


class PostgresStore(Store):
    """The results store in a PostgreSQL database. Safe across threads, processes and hosts."""

    dialect = DIALECT

    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("postgresql", "postgres"):
            raise StoreError(f"store URL {redact(url)} is not a postgresql:// URL",
                             hint="use postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        self.url = "postgresql://" + rest
        self.location = redact(self.url)
        try:
            self._password: Optional[str] = urlsplit(self.url).password
        except ValueError:
            self._password = None
        self.connect_timeout = connect_timeout
        self._forget_connections()
        self._init_results()

    def _forget_connections(self) -> None:
        """Start with no connections; in a forked child, leave the parent's ones alone (closing
        one here would end the parent's session on the shared socket)."""
        _FORKED.extend(conn for _, conn in getattr(self, "_open", ()))
        self._pid = os.getpid()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[threading.Thread, Any]] = []  # every thread's connection, to reap

    # -- connections --------------------------------------------------------------------------
    def connect(self) -> Any:
        """This thread's connection (autocommit, rows as dicts); opened on first use."""
        if self._pid != os.getpid():
            self._forget_connections()
        conn = getattr(self._local, "conn", None)
        if conn is not None and (conn.closed or conn.broken):
            self._discard(conn)
            conn = None
        if conn is None:
            psycopg = _psycopg()
            from psycopg.rows import dict_row

            try:
                conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                       connect_timeout=max(1, int(self.connect_timeout)),
                                       application_name="edgekit")
            except psycopg.Error as exc:
                raise self._error(exc, connecting=True) from None  # the cause may quote the URL
            self._local.conn = conn
            with self._lock:
                self._reap()
                self._open.append((threading.current_thread(), conn))
        return conn

    def _error(self, exc: Exception, connecting: bool = False) -> StoreError:
        return _error(self.location, exc, connecting, secret=self._password)

    def _reap(self) -> None:
        """Close the connections of threads that have ended (called with the lock held)."""
        alive = []
        for thread, conn in self._open:
            if thread.is_alive():
                alive.append((thread, conn))
            else:
                conn.close()
        self._open = alive

    def _discard(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close
            LOG.debug("closing a broken connection to %s failed", self.location, exc_info=True)
        with self._lock:
            self._open = [(t, c) for t, c in self._open if c is not conn]
        self._local.conn = None

    # -- the backend's part ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """``BEGIN`` … ``COMMIT`` (READ COMMITTED); rolled back on any exception."""
        psycopg = _psycopg()
        conn = self.connect()
        try:
            with conn.transaction():
                yield _Transaction(conn)
        except psycopg.Error as exc:
            if conn.broken:
                self._discard(conn)
            raise self._error(exc) from exc

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        psycopg = _psycopg()
        for attempt in (1, 2):
            conn = self.connect()
            try:
                return conn.execute(to_psycopg(sql), tuple(args)).fetchall()
            except psycopg.OperationalError as exc:
                if conn.broken and attempt == 1:  # the server restarted or dropped us: reads are safe to retry
                    self._discard(conn)
                    continue
                raise self._error(exc) from exc
            except psycopg.Error as exc:
                raise self._error(exc) from exc
        raise AssertionError("unreachable")

    def execute_script(self, ddl: str) -> None:
        """Run DDL in one transaction under the schema lock (CREATE … IF NOT EXISTS races otherwise)."""
        with self.transaction() as tx:
            self.dialect.lock_key(tx, SCHEMA_LOCK)
            tx._conn.execute(ddl)  # no parameters: several statements may go in one call

    def ensure_schema(self, part: str, ddl: str, version: int,
                      added_columns: Sequence[tuple[str, str, str]] = ()) -> None:
        """As :meth:`Store.ensure_schema`, holding a session advisory lock so that two processes
        creating or migrating the same database at once do it one after the other."""
        if part in getattr(self, "_schemas", set()):
            return
        conn = self.connect()
        self._session_lock(conn, "pg_advisory_lock")
        try:
            super().ensure_schema(part, ddl, version, added_columns)
        finally:
            if not conn.closed:
                self._session_lock(conn, "pg_advisory_unlock")

    def _session_lock(self, conn: Any, function: str) -> None:
        psycopg = _psycopg()
        try:
            conn.execute(f"SELECT {function}(hashtext(%s))", (SCHEMA_LOCK + ":session",))
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def columns(self, table: str) -> set[str]:
        rows = self.query("SELECT column_name FROM information_schema.columns "
                          "WHERE table_schema = current_schema() AND table_name = ?", (table.lower(),))
        return {r["column_name"] for r in rows}

    def close(self) -> None:
        if self._pid != os.getpid():
            self._forget_connections()
        conn: Optional[Any] = getattr(self._local, "conn", None)
        if conn is not None:
            self._discard(conn)

    def close_all(self) -> None:
        """Close every thread's connection (when no thread uses the store any more)."""
        if self._pid != os.getpid():
            self._forget_connections()
        with self._lock:
            opened, self._open = self._open, []
        for _, conn in opened:
            conn.close()
        self._local.conn = None


__all__ = ["PostgresStore", "DIALECT", "redact", "to_psycopg"]
