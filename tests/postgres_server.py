"""A real PostgreSQL server for the tests (fixtures, imported by tests/conftest.py).

``postgres_server`` (session): the admin URL of a server — ``$EDGEKIT_TEST_PG_URL`` when set
(a server someone else runs), else a throw-away cluster started here with
``scripts/postgres.sh start`` and stopped at the end of the session (a watchdog stops it
too if pytest is killed). Starting it here rather than in ``scripts/test`` means any
``pytest tests/…`` run gets the same server, and its lifetime is tied to the session.
When no server can be started the tests skip with the reason — unless
``$EDGEKIT_REQUIRE_POSTGRES=1`` (``scripts/test`` sets it), where they fail instead.

``pg_url``: a fresh database on that server for one test, dropped afterwards.
``store_url``: parametrized over both backends: a SQLite file path, or ``pg_url``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "postgres.sh"


def _unavailable(reason: str) -> None:
    if os.environ.get("EDGEKIT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here (EDGEKIT_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"needs a PostgreSQL server: {reason} (scripts/postgres.sh install, as root)")


def _admin(url: str):  # noqa: ANN202 - a psycopg connection
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=10)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a running PostgreSQL server (see the module docstring)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    given = os.environ.get("EDGEKIT_TEST_PG_URL")
    if given:
        try:
            _admin(given).close()
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is the reason to give
            _unavailable(f"$EDGEKIT_TEST_PG_URL cannot be reached: {exc}")
        yield given
        return
    proc = subprocess.run(["bash", str(SCRIPT), "start", "--owner", str(os.getpid())],
                          capture_output=True, text=True, timeout=120)
    found = dict(line.removeprefix("export ").split("=", 1) for line in proc.stdout.splitlines()
                 if line.startswith("export "))
    if proc.returncode != 0 or "EDGEKIT_TEST_PG_URL" not in found:
        _unavailable(f"scripts/postgres.sh start failed: {proc.stderr.strip()[-600:]}")
    try:
        yield found["EDGEKIT_TEST_PG_URL"]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", found["EDGEKIT_TEST_PG_DIR"]], timeout=120, check=False)


def database_url(server: str, database: str) -> str:
    """``server`` with its database replaced by ``database``."""
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test (dropped afterwards, with its connections)."""
    name = f"edgekit_t_{uuid.uuid4().hex[:12]}"
    with _admin(postgres_server) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield database_url(postgres_server, name)
    finally:
        with _admin(postgres_server) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives, once per backend: a SQLite file path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "results.sqlite")
    return str(request.getfixturevalue("pg_url"))
