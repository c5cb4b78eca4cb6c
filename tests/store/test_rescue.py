"""Nothing measured is lost: a failing store rescues the measurement to a file, a corrupt
store is one clear error in every command, and `edgekit store import` brings results back."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgekit.devices.deploy import deploy
from edgekit.errors import StoreError
from edgekit.measurement import LatencyStats, Measurement, RunSettings
from edgekit.store import NO_STORE, open_store, read_rescue
from edgekit.store.sqlite import SqliteStore

QUICK = RunSettings(warmup_runs=1, warmup_seconds=0.0, runs=5, min_seconds=0.0)


def _m(i: int) -> Measurement:
    samples = tuple(100.0 + k for k in range(9))
    return Measurement(f"{i:064x}", f"m{i}", "host", "host", "r", "1", RunSettings(), samples,
                       LatencyStats.from_samples(samples))


def _edgekit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgekit.cli.main", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "COLUMNS": "200"})


def test_a_store_error_after_measuring_keeps_the_measurement(tiny_models: Any, tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    store = _ShortTimeoutStore(path)                        # opened; then another process holds the lock
    blocker = sqlite3.connect(path, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as err:
            deploy(tiny_models.fp32_tflite, device="host", settings=QUICK, store=store)
    finally:
        blocker.rollback()
        blocker.close()
    assert err.value.rescued and "edgekit store import" in (err.value.hint or "")
    rescued = read_rescue(err.value.rescued)
    assert len(rescued) == 1 and rescued[0].status == "ok" and len(rescued[0].samples_us) >= 5
    assert Path(err.value.rescued).parent == tmp_path                # next to the store
    r = _edgekit("store", "import", err.value.rescued, "--store", str(path), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"][0]["added"] == 1
    r = _edgekit("store", "import", err.value.rescued, "--store", str(path), "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["files"][0]["already_stored"] == 1  # importing twice adds nothing
    assert [m.id for m in SqliteStore(path).measurements()] == [rescued[0].id]


class _ShortTimeoutStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, timeout=0.2)


@pytest.mark.parametrize("command", [["report"], ["deploy", "--runs", "1"], ["lab", "status", "LAB"],
                                     ["store", "info"]])
def test_a_corrupt_store_is_one_clear_error_in_every_command(command: list[str], tmp_path: Path,
                                                             tiny_models: Any) -> None:
    bad = tmp_path / "results.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    args = [*command]
    if command[0] == "deploy":
        args.insert(1, str(tiny_models.fp32_tflite))
    if command[0] == "lab":
        lab = tmp_path / "lab.toml"
        lab.write_text('[lab]\nname = "l"\n[[device]]\nname = "host"\nprofile = "host"\n'
                       f'[[job]]\nmodels = ["{tiny_models.fp32_tflite}"]\ndevices = ["host"]\n')
        args[-1] = str(lab)
    r = _edgekit(*args, "--store", str(bad), cwd=tmp_path)
    assert r.returncode == StoreError.exit_code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: store '{bad}'"), r.stderr
    assert "hint:" in r.stderr


def test_open_store_means_the_same_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_STORE", str(tmp_path / "env.sqlite"))
    assert open_store(None).path == tmp_path / "env.sqlite"
    assert open_store(NO_STORE) is None and open_store(False) is None
    s = open_store(f"sqlite:///{tmp_path}/url.sqlite")
    assert s.path == tmp_path / "url.sqlite" and open_store(s) is s
    with pytest.raises(StoreError, match="'mysql://' is not known"):
        open_store("mysql://x/y")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nope.sqlite", must_exist=True)


def test_stores_written_by_the_first_edgekit_open_and_migrate(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema', '1');
CREATE TABLE artifacts (sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, variant TEXT NOT NULL,
  size_bytes INTEGER NOT NULL, path TEXT NOT NULL, doc TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE quality (id INTEGER PRIMARY KEY AUTOINCREMENT, artifact_sha256 TEXT NOT NULL, dataset TEXT NOT NULL,
  metric TEXT NOT NULL, value REAL NOT NULL, samples INTEGER NOT NULL, doc TEXT NOT NULL, created REAL NOT NULL,
  UNIQUE (artifact_sha256, dataset, metric));
CREATE TABLE measurements (id TEXT PRIMARY KEY, artifact_sha256 TEXT NOT NULL, device TEXT NOT NULL,
  profile TEXT NOT NULL, status TEXT NOT NULL, median_us REAL, job_id TEXT, doc TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE jobs (id TEXT PRIMARY KEY, lab TEXT NOT NULL, artifact_sha256 TEXT NOT NULL, artifact_path TEXT NOT NULL,
  profile TEXT NOT NULL, settings TEXT NOT NULL, state TEXT NOT NULL, device TEXT, lease_owner TEXT,
  lease_expires REAL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, measurement_id TEXT, created REAL NOT NULL,
  updated REAL NOT NULL);
""")
    old = _m(1).to_dict()
    old.pop("sessions", None)
    old["stats"] = {k: v for k, v in old["stats"].items() if not k.endswith(("_ci_lo", "_ci_hi"))}
    db.execute("INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?,?)",
               (old["id"], old["artifact_sha256"], "host", "host", "ok", 104.0, None, json.dumps(old), 5.0))
    db.commit()
    db.close()
    store = SqliteStore(path)
    (m,) = store.measurements()
    assert m.samples_us == tuple(100.0 + k for k in range(9)) and m.stats.median == 104.0
    store.add_measurement(_m(2))
    assert [x.artifact_name for x in store.measurements()] == ["m1", "m2"]
    assert {"arrived", "samples"} <= store.columns("measurements")
    assert store.query("SELECT value FROM meta WHERE key='results-schema'")[0]["value"] == "2"


def test_results_are_ordered_by_arrival_not_by_the_device_clock(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.sqlite")
    late_clock = Measurement(**{**_m(1).__dict__, "finished_at": 2_000_000_000.0, "started_at": 1_999_999_999.0})
    past_clock = Measurement(**{**_m(2).__dict__, "finished_at": 86_400.0, "started_at": 86_399.0})  # no RTC: 1970
    store.add_measurement(late_clock)
    store.add_measurement(past_clock)
    assert [m.artifact_name for m in store.measurements()] == ["m1", "m2"]


def test_samples_take_little_room(tmp_path: Path) -> None:
    import numpy as np

    samples = tuple(float(x) for x in np.random.default_rng(0).lognormal(np.log(20.0), 0.03, 57_000))
    m = Measurement("b" * 64, "m", "host", "host", "r", "1", RunSettings(), samples, LatencyStats.from_samples(samples))
    store = SqliteStore(tmp_path / "r.sqlite")
    store.add_measurement(m)
    row = store.query("SELECT length(doc) + length(samples) AS n FROM measurements")[0]
    assert row["n"] <= 150_000
    back = store.measurement(m.id)
    assert np.allclose(back.samples_us, samples, atol=0.0005)      # lossless at ns resolution
