from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.farm.store import Store
from edgekit.measurement import LatencyStats, Measurement, QualityRecord, RunSettings


def _m(i: int, device: str = "host") -> Measurement:
    samples = (100.0 + i, 101.0 + i, 99.0 + i)
    return Measurement(f"{i:064x}", f"m{i}", device, "host", "edgekit-runner", "1", RunSettings(),
                       samples, LatencyStats.from_samples(samples))


def test_round_trip_and_filters(tmp_path: Path) -> None:
    s = Store(tmp_path / "r.sqlite")
    for i in range(3):
        s.add_measurement(_m(i, device="a" if i else "b"))
    assert [m.artifact_name for m in s.measurements(device="a")] == ["m1", "m2"]
    assert s.measurements(artifact_sha256=f"{0:064x}")[0].samples_us == (100.0, 101.0, 99.0)
    s.add_quality(QualityRecord("x", "int8", "d", "top1", 0.5, 10))
    s.add_quality(QualityRecord("x", "int8", "d", "top1", 0.75, 10))  # re-evaluation updates
    assert [q.value for q in s.quality()] == [0.75]


def test_results_are_append_only(tmp_path: Path) -> None:
    s = Store(tmp_path / "r.sqlite")
    m = _m(1)
    s.add_measurement(m)
    with pytest.raises(sqlite3.IntegrityError):
        s.add_measurement(m)
    assert len(s.measurements()) == 1


def _writer(path: str, start: int, n: int) -> None:
    s = Store(path)
    for i in range(start, start + n):
        s.add_measurement(_m(i))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite")
    Store(path)
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, k * 100, 25)) for k in range(2)]
    threads = [threading.Thread(target=_writer, args=(path, 1000 + k * 100, 25)) for k in range(2)]
    for w in procs + threads:
        w.start()
    for w in procs + threads:
        w.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(Store(path).measurements()) == 100


def test_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("not a database " * 200)
    with pytest.raises(ConfigError, match="not an edgekit SQLite store"):
        Store(bad)
