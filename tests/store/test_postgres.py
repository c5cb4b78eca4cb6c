"""What only the PostgreSQL store has: a server that can be down, passwords, lost connections,
row locks that other writers skip."""

from __future__ import annotations

import multiprocessing as mp
import socket
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest

from edgekit.errors import DuplicateRecord, StoreError
from edgekit.measurement import LatencyStats, Measurement, RunSettings
from edgekit.store import open_store
from edgekit.store.postgres import PostgresStore, redact, to_psycopg
from tests.postgres_server import database_url

pytestmark = pytest.mark.postgres

SECRET = "pw-" + uuid.uuid4().hex[:10]


def _m(i: int) -> Measurement:
    samples = (10.0 + i, 11.0 + i, 9.0 + i)
    return Measurement(f"{i:064x}", f"m{i}", "host", "host", "edgekit-runner", "1", RunSettings(),
                       samples, LatencyStats.from_samples(samples))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


@pytest.fixture
def password_role(pg_url: str) -> str:
    """A role that must log in with SECRET (the test server asks members of edgekit_password)."""
    role = f"edgekit_u_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}' IN ROLE edgekit_password")
        admin.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    return role


def _with_user(url: str, user: str, password: str) -> str:
    host_part = url.split("@", 1)[1]
    return f"postgresql://{user}:{password}@{host_part}"


def test_translation_keeps_quoted_text_and_doubles_percent_signs() -> None:
    assert to_psycopg("SELECT a FROM t WHERE b=? AND c LIKE 'x?%' -- why?\n AND d=?") == \
        "SELECT a FROM t WHERE b=%s AND c LIKE 'x?%%' -- why?\n AND d=%s"
    assert to_psycopg('SELECT "we?ird", \'it\'\'s ?\' FROM t /* ? */ WHERE x=?') == \
        'SELECT "we?ird", \'it\'\'s ?\' FROM t /* ? */ WHERE x=%s'


def test_a_down_server_is_one_clear_error() -> None:
    port = _closed_port()
    with pytest.raises(StoreError) as info:
        open_store(f"postgresql://edgekit:{SECRET}@127.0.0.1:{port}/results")
    err = info.value
    assert f"cannot connect to store postgresql://edgekit:***@127.0.0.1:{port}/results" in err.message
    assert "refused" in err.message.lower()
    assert f"pg_isready -h 127.0.0.1 -p {port}" in err.hint
    assert SECRET not in str(err) + err.hint + repr(err)


def test_the_password_never_appears(pg_url: str, password_role: str) -> None:
    good = _with_user(pg_url, password_role, SECRET)
    s = open_store(good)
    assert isinstance(s, PostgresStore) and SECRET not in s.location + repr(s)
    m = _m(1)
    s.add_measurement(m)
    with pytest.raises(DuplicateRecord) as dup:
        s.add_measurement(m)
    assert "***" in dup.value.message and SECRET not in dup.value.message + dup.value.hint
    with pytest.raises(StoreError) as wrong:
        open_store(_with_user(pg_url, password_role, "not-" + SECRET))
    assert "password authentication failed" in wrong.value.message
    assert SECRET not in wrong.value.message + wrong.value.hint and "password" in wrong.value.hint
    # the CLI's message too
    out = subprocess.run([sys.executable, "-m", "edgekit.cli.main", "store", "info", "--store",
                          _with_user(pg_url, password_role, SECRET + "x")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0 and "password authentication failed" in out.stdout + out.stderr
    assert SECRET not in out.stdout + out.stderr


def test_redact() -> None:
    assert redact("postgresql://u:p%40ss@h:5/db?sslmode=require") == "postgresql://u:***@h:5/db?sslmode=require"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_lost_connection_is_reopened(pg_url: str) -> None:
    s = open_store(pg_url)
    s.add_measurement(_m(1))
    pid = s.query("SELECT pg_backend_pid() AS p")[0]["p"]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert len(s.measurements()) == 1  # a read retries once on a new connection
    assert s.query("SELECT pg_backend_pid() AS p")[0]["p"] != pid
    s.add_measurement(_m(2))
    assert len(s.measurements()) == 2


def test_a_missing_database_says_so(postgres_server: str) -> None:
    with pytest.raises(StoreError, match="does not exist") as info:
        open_store(database_url(postgres_server, "edgekit_no_such_db"))
    assert "createdb" in info.value.hint


def test_claimed_rows_are_skipped_by_other_writers(pg_url: str) -> None:
    """What the farm's queue relies on: FOR UPDATE SKIP LOCKED skips rows another transaction holds."""
    s = open_store(pg_url)
    for i in range(3):
        s.add_measurement(_m(i))
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with s.transaction() as tx:
            tx.execute("SELECT id FROM measurements WHERE median_us < ?" + s.dialect.row_lock, (10.5,))
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(30)
    try:
        with s.transaction() as tx:
            rows = tx.execute("SELECT median_us FROM measurements ORDER BY median_us" + s.dialect.skip_locked
                              ).fetchall()
        assert [r["median_us"] for r in rows] == [11.0, 12.0]
    finally:
        release.set()
        t.join(30)


def _child_writes(store: PostgresStore) -> None:
    store.add_measurement(_m(2))
    store.close()
    store.close_all()


def test_a_forked_child_never_ends_the_parents_connection(pg_url: str) -> None:
    s = open_store(pg_url)
    s.add_measurement(_m(1))
    pid = s.query("SELECT pg_backend_pid() AS p")[0]["p"]
    child = mp.get_context("fork").Process(target=_child_writes, args=(s,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert s.query("SELECT pg_backend_pid() AS p")[0]["p"] == pid  # the same session, still open
    assert len(s.measurements()) == 2
