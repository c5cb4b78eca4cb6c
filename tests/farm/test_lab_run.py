"""A real lab: three sshd boards of one profile, this host, and the fake adbd phone.

Every device is driven through the real DeviceSession and measured by edgekit's runner;
the tests check the store afterwards: every job done exactly once, with the runner's own
samples and timestamps, no device running two jobs at once.
"""

from __future__ import annotations

import json

import pytest

from edgekit.farm.lab import Lab
from edgekit.store.sqlite import SqliteStore as Store
from tests.farm.conftest import job_tables, lab_text, overlaps, phone_profile


def _measurements_by_job(store: Store) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    ids = {r["id"]: r["job_id"] for r in store.query("SELECT id, job_id FROM measurements")}
    for m in store.measurements(ids=list(ids)):
        out.setdefault(ids[m.id], []).append(m.to_dict())
    return out


@pytest.mark.slow
def test_mixed_lab_runs_every_job_once_with_real_samples(tmp_path, farm_models, profiles_dir, boards,
                                                         fake_adbd):
    lab3 = boards(3)
    phone_profile(profiles_dir, fake_adbd.root)
    devices = lab3.device_entries() + (
        '\n[[device]]\nname = "host"\nprofile = "host"\n'
        f'\n[[device]]\nname = "phone-1"\nprofile = "testphone"\nhost = "127.0.0.1"\nport = {fake_adbd.port}\n'
        f'key = "{tmp_path / "adbkey"}"\n')
    jobs = job_tables(
        ([str(farm_models.manifest)], ["testboard"], ""),              # fp32 + int8 on any board
        ([str(farm_models.fp32)], ["board-a", "host", "phone-1"], ""),
        ([str(farm_models.int8)], ["testboard"], "threads = 2"),
        ([str(farm_models.int8)], ["host"], ""),
    )
    path = tmp_path / "lab.toml"
    path.write_text(lab_text("mixed", profiles_dir, tmp_path / "results.sqlite", devices, jobs,
                             "cooldown_seconds = 0.1\nlease_seconds = 20"))
    events = []
    lab = Lab.load(path)
    assert len(lab.jobs) == 7
    run = lab.run(progress=events.append)

    assert run.counts == {"queued": 0, "leased": 0, "running": 0, "done": 7, "failed": 0}, run.results()
    store = Store(tmp_path / "results.sqlite")
    by_job = _measurements_by_job(store)
    jobs_rows = {r["id"]: dict(r) for r in store.connect().execute("SELECT * FROM jobs")}
    assert set(by_job) == set(jobs_rows) and all(len(ms) == 1 for ms in by_job.values())
    results = run.results()
    for job in results["jobs"]:
        (m,) = by_job[job["id"]]
        assert m["runner"] == "edgekit-runner"
        assert len(m["samples_us"]) == 5 and all(s > 0 for s in m["samples_us"])
        assert m["started_at"] < m["finished_at"]
        assert m["device"] == job["device"]
        # the device is named by the lab; the measurement still says which profile it is
        assert m["profile"] == {"host": "host", "phone-1": "testphone"}.get(m["device"], "testboard")
        assert job["latency"]["median_us"] == pytest.approx(sorted(m["samples_us"])[2])
        if job["target_kind"] == "device":
            assert job["device"] == job["target"]
        else:
            assert job["device"] in {"board-a", "board-b", "board-c"}
        assert jobs_rows[job["id"]]["measurement_id"] == m["id"]
    # threads=2 reached the runner
    (two,) = [j for j in results["jobs"] if j["settings"]["threads"] == 2]
    assert by_job[two["id"]][0]["settings"]["threads"] == 2
    # no device ran two jobs at once (runner timestamps)
    per_device: dict[str, list[tuple[float, float]]] = {}
    for ms in by_job.values():
        per_device.setdefault(ms[0]["device"], []).append((ms[0]["started_at"], ms[0]["finished_at"]))
    assert {"host", "phone-1", "board-a"} <= set(per_device)
    for device, intervals in per_device.items():
        assert not overlaps(intervals), device
    # progress: every finished job was reported by its device
    done = [e for e in events if e.stage == "lab.done"]
    assert len(done) == 7
    assert {e.item for e in done} == set(per_device)
    # a second run without --resume is refused; with it nothing is measured again
    from edgekit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"already has run 1 .*7 done") as info:
        Lab.load(path).run()
    assert "--resume" in info.value.hint
    again = Lab.load(path).run(resume=True)
    assert again.run == 1 and again.added == 0 and again.counts["done"] == 7
    assert len(_measurements_by_job(store)) == 7
