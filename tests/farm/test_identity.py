"""A lab device's lease identity is the physical device: one board by address and by name."""

from __future__ import annotations

import pytest

from edgekit.farm.lab import Lab
from edgekit.store.sqlite import SqliteStore as Store
from tests.farm.conftest import job_tables, lab_text, overlaps

#: long enough runs that two lab devices on one board would overlap without the identity lease
SLOW = "runs = 5\nwarmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 1.0\nmax_seconds = 60.0\n"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_one_board_by_ip_and_by_name_never_runs_two_jobs_at_once(tmp_path, farm_models, profiles_dir, boards):
    lab1 = boards(1, first_host=1)                      # listens on 127.0.0.1
    board = lab1.boards[0]
    known = lab1.known_hosts.read_text().splitlines()[0].split(maxsplit=1)[1]
    lab1.known_hosts.write_text(lab1.known_hosts.read_text() + f"[localhost]:{board.port} {known}\n")
    devices = "".join(
        f'\n[[device]]\nname = "{name}"\nprofile = "testboard"\nhost = "{host}"\nport = {board.port}\n'
        f'key = "{lab1.key}"\nknown_hosts = "{lab1.known_hosts}"\n'
        for name, host in (("by-ip", "127.0.0.1"), ("by-name", "localhost")))
    jobs = job_tables(([str(farm_models.manifest)], ["by-ip"], ""), ([str(farm_models.manifest)], ["by-name"], ""))
    path = tmp_path / "lab.toml"
    path.write_text(lab_text("twice", profiles_dir, tmp_path / "results.sqlite", devices, jobs,
                             "cooldown_seconds = 0\nlease_seconds = 20", defaults=SLOW))
    lab = Lab.load(path)
    assert len(lab.jobs) == 4 and len({d.key for d in lab.spec.devices}) == 2  # two transport addresses
    run = lab.run()
    assert run.counts["done"] == 4, run.results()

    store = Store(tmp_path / "results.sqlite")
    ms = [m.to_dict() for m in store.measurements()]
    assert {m["device"] for m in ms} == {"by-ip", "by-name"}
    board_id = (board.folder / "machine-id").read_text().strip()
    assert {m["facts"]["device_id"] for m in ms} == {f"machine-id:{board_id}"}
    intervals = [(m["started_at"], m["finished_at"]) for m in ms]
    assert not overlaps(intervals), f"one board ran two jobs at once: {overlaps(intervals)}"
