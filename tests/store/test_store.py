"""The results store, on both backends: the same records and the same guarantees.

Every test taking ``store_url`` runs twice: on a SQLite file and on a fresh database of a
real PostgreSQL server (marker ``postgres``, see tests/postgres_server.py).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

import pytest

from edgekit.errors import DuplicateRecord, StoreError
from edgekit.measurement import LatencyStats, Measurement, QualityRecord, RunSettings
from edgekit.store import open_store
from edgekit.store.sqlite import SqliteStore


def _m(i: int, device: str = "host") -> Measurement:
    samples = (100.0 + i, 101.0 + i, 99.0 + i)
    return Measurement(f"{i:064x}", f"m{i}", device, "host", "edgekit-runner", "1", RunSettings(),
                       samples, LatencyStats.from_samples(samples))


def test_round_trip_and_filters(store_url: str) -> None:
    s = open_store(store_url)
    for i in range(3):
        s.add_measurement(_m(i, device="a" if i else "b"))
    assert [m.artifact_name for m in s.measurements(device="a")] == ["m1", "m2"]
    got = s.measurements(artifact_sha256=f"{0:064x}")[0]
    assert got.samples_us == (100.0, 101.0, 99.0) and got == s.measurement(got.id)
    assert s.measurements(ids=[]) == [] and s.measurement("nope") is None
    s.add_quality(QualityRecord("x", "int8", "d", "top1", 0.5, 10))
    s.add_quality(QualityRecord("x", "int8", "d", "top1", 0.75, 10))  # re-evaluation updates
    assert [q.value for q in s.quality()] == [0.75]
    assert {"arrived", "samples", "median_us"} <= s.columns("measurements")
    light = s.measurements(device="a", samples=False)   # facts and statistics, samples left unread
    assert [m.id for m in light] == [m.id for m in s.measurements(device="a")]
    assert all(m.samples_us == () and m.stats.median == 100.0 + i for i, m in enumerate(light, 1))
    s.close()


def test_results_are_append_only(store_url: str) -> None:
    s = open_store(store_url)
    m = _m(1)
    s.add_measurement(m)
    with pytest.raises(DuplicateRecord, match="duplicate record"):
        s.add_measurement(m)
    assert len(s.measurements()) == 1


def test_a_failed_transaction_leaves_nothing(store_url: str) -> None:
    s = open_store(store_url)
    m = _m(7)
    with pytest.raises(DuplicateRecord):
        with s.transaction() as tx:
            s.insert_measurement(tx, _m(8))
            s.insert_measurement(tx, m)
            s.insert_measurement(tx, m)  # the second insert fails: the first two are rolled back too
    assert s.measurements() == []
    s.add_measurement(_m(7))  # and the store is usable afterwards
    assert len(s.measurements()) == 1


def test_placeholders_and_literal_percent_signs(store_url: str) -> None:
    s = open_store(store_url)
    s.add_measurement(_m(1, device="50%-board"))
    s.add_measurement(_m(2, device="other"))
    rows = s.query("SELECT device FROM measurements WHERE device LIKE '50%' AND id <> '?' AND device=?",
                   ("50%-board",))
    assert [r["device"] for r in rows] == ["50%-board"]


def _writer(location: str, start: int, n: int) -> None:
    s = open_store(location)
    for i in range(start, start + n):
        s.add_measurement(_m(i))
    s.close()


def test_concurrent_writers_lose_nothing(store_url: str) -> None:
    open_store(store_url).close()
    procs = [mp.get_context("spawn").Process(target=_writer, args=(store_url, k * 100, 25)) for k in range(3)]
    threads = [threading.Thread(target=_writer, args=(store_url, 1000 + k * 100, 25)) for k in range(2)]
    for w in procs + threads:
        w.start()
    for w in procs + threads:
        w.join(120)
    assert all(p.exitcode == 0 for p in procs)
    got = open_store(store_url).measurements()
    assert len(got) == 125 and len({m.id for m in got}) == 125


def _open_only(location: str) -> None:
    open_store(location).close()


def test_many_processes_create_the_schema_at_once(store_url: str) -> None:
    """CREATE TABLE IF NOT EXISTS races on PostgreSQL; the schema lock serialises it."""
    from edgekit.farm.schema import ensure_farm_schema

    procs = [mp.get_context("spawn").Process(target=_open_only, args=(store_url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    s = open_store(store_url)
    ensure_farm_schema(s)
    assert s.query("SELECT value FROM meta WHERE key='results-schema'")[0]["value"] == "2"


def test_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database " * 200)
    with pytest.raises(StoreError, match="not an edgekit SQLite store"):
        SqliteStore(bad)
