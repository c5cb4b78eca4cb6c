"""A worker that loses its device's lease stops its job at once: its runner is killed on the
board (it would otherwise keep measuring next to the new holder's run)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from edgekit.devices.runner_ledger import read_runs_log
from edgekit.farm.lab import Lab
from edgekit.store.sqlite import SqliteStore as Store
from tests.farm.conftest import job_tables, lab_text, overlaps
from tests.farm.test_faults import jobs, poll, runner_on

pytestmark = pytest.mark.slow

#: one job long enough that a stop is told apart from its natural end
LONG = "runs = 5\nwarmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 8.0\nmax_seconds = 60.0\n"


@pytest.mark.timeout(300)
def test_a_worker_that_loses_its_lease_kills_its_runner_and_drops_the_run(tmp_path, farm_models, profiles_dir,
                                                                           boards):
    lab1 = boards(1, first_host=20)
    board = lab1.boards[0]
    store_path = tmp_path / "results.sqlite"
    path = tmp_path / "lab.toml"
    path.write_text(lab_text("lost", profiles_dir, store_path, lab1.device_entries(),
                             job_tables(([str(farm_models.fp32)], ["board-a"], "")),
                             "lease_seconds = 3\ncooldown_seconds = 0", defaults=LONG))
    lab = Lab.load(path)
    key = lab.spec.devices[0].key
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(run=lab.run()), daemon=True)
    thread.start()
    poll("the running job", lambda: store_path.exists() and any(
        j["state"] == "running" for j in jobs(store_path).values()))
    poll("its runner measuring", lambda: "start" in _runs_log(board))
    time.sleep(1.0)
    # another controller takes the device over (what acquire() does once a lease has expired)
    taken = time.time()
    with Store(store_path).transaction() as db:
        db.execute("UPDATE device_leases SET owner=?, expires=? WHERE device=?", ("elsewhere:1:2:x", taken + 4, key))
    poll("the runner killed", lambda: not runner_on(board), seconds=20)
    stopped_after = time.time() - taken
    assert stopped_after < 6.0, f"the runner kept going {stopped_after:.1f} s after the lease was lost"
    thread.join(timeout=240)
    assert not thread.is_alive() and outcome["run"].counts["done"] == 1     # re-run once the lease came back
    events = [(r["kind"], json.loads(r["detail"])) for r in
              Store(store_path).connect().execute("SELECT kind, detail FROM events ORDER BY id")]
    assert any(k == "stopped" and "lost" in d["reason"] for k, d in events), events
    runs = read_runs_log(_runs_log(board))
    assert len(runs) >= 2 and all(r["start"] and r["end"] for r in runs.values())  # every runner ended
    assert not overlaps([(r["start"], r["end"]) for r in runs.values()])


def _runs_log(board) -> str:  # noqa: ANN001
    log = board.folder / "fs" / "runs.log"                 # the board's work dir, seen from this host
    return log.read_text() if log.exists() else ""
