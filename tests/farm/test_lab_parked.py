"""A lab whose boards keep their runners (``keep_runner_s`` on a ``[[device]]``): the next lab
run attaches to the runner the last one parked, over a real sshd board, and measures the same.
"""

from __future__ import annotations

import statistics
import time

import pytest

from edgekit.devices.runner_ledger import read_runs_log
from edgekit.farm.lab import Lab
from edgekit.store.sqlite import SqliteStore as Store
from tests.farm.conftest import job_tables, lab_text

pytestmark = pytest.mark.timeout(300)


def test_the_next_lab_run_attaches_to_the_parked_runners(tmp_path, farm_models, profiles_dir, boards) -> None:  # noqa: ANN001
    lab1 = boards(1)
    board = lab1.boards[0]
    devices = lab1.device_entries().replace("known_hosts = ", "keep_runner_s = 30\nknown_hosts = ")
    jobs = job_tables(([str(farm_models.int8)], ["testboard"], ""))
    medians = []
    for n in (1, 2):
        path = tmp_path / f"lab{n}.toml"
        path.write_text(lab_text("parked", profiles_dir, tmp_path / f"results{n}.sqlite", devices, jobs,
                                 "lease_seconds = 20"))
        lab = Lab.load(path)
        assert lab.spec.devices[0].profile.keep_runner_s == 30.0
        run = lab.run()
        assert run.counts["done"] == 1 and run.counts["failed"] == 0, run.results()
        ms = Store(tmp_path / f"results{n}.sqlite").measurements()
        assert len(ms) == 1 and all(m.stats.count == 5 and m.runner == "edgekit-runner" for m in ms)
        medians.append(statistics.median(m.stats.median for m in ms))
        time.sleep(0.6)

    log_text = (board.folder / "fs" / "runs.log").read_text()
    runs = read_runs_log(log_text)
    starts = [line.split() for line in log_text.splitlines() if line.startswith("start")]
    attaches = [line.split() for line in log_text.splitlines() if line.startswith("attach")]
    parked = {int(a[1]) for a in attaches}
    assert len(parked) == 1                                   # one runner served both lab runs
    (pid,) = parked
    assert len({a[2] for a in attaches}) == 2                 # each run's session attached with its own token
    assert [int(s[1]) for s in starts] == [pid]               # started once (the sessions' relays are no runners)
    assert runs[pid]["end"] is None                           # still parked for the next run
    assert (board.folder / "fs" / "runners" / str(pid)).read_text().split()[1] == "parked"
    assert all(m > 0 for m in medians)
