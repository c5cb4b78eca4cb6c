"""Fault injection on a real lab: a board dies mid-job; the controller is SIGKILLed and
resumed; two controllers share one lab. Synchronisation is by polling the store (or the
process table) with a deadline, never by fixed sleeps."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from edgekit.farm.lab import Lab
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.devices.runner_ledger import read_runs_log
from tests.farm.conftest import job_tables, lab_text, overlaps

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def poll(what: str, check: Callable[[], object], seconds: float = 120.0) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def runner_on(board) -> bool:  # noqa: ANN001
    """True while edgekit's runner runs in one of ``board``'s SSH sessions."""
    for pid in board.sessions():
        try:
            if b"edgekit_runner" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def measurements(store_path: Path) -> dict[str, dict]:
    db = Store(store_path).connect()
    return {r["id"]: {"job_id": r["job_id"], "doc": json.loads(r["doc"])}
            for r in db.execute("SELECT id, job_id, doc FROM measurements")}


def jobs(store_path: Path) -> dict[str, dict]:
    """The jobs table (empty until a controller has created the farm's tables)."""
    from edgekit.farm.schema import ensure_farm_schema

    store = Store(store_path)
    ensure_farm_schema(store)
    return {r["id"]: dict(r) for r in store.connect().execute("SELECT * FROM jobs")}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgekit.cli.main", *args]


def test_board_dies_mid_job_the_job_moves_and_the_rest_finish(tmp_path, farm_models, profiles_dir, boards):
    lab3 = boards(3)
    path = tmp_path / "lab.toml"
    store_path = tmp_path / "results.sqlite"
    jobs_toml = job_tables(*[([str(farm_models.manifest)], ["testboard"], f"runs = {n}") for n in (5, 6, 7)])
    path.write_text(lab_text("faulty", profiles_dir, store_path, lab3.device_entries(), jobs_toml,
                             "retries = 2\nbackoff_seconds = 0.2\nlease_seconds = 10",
                             defaults="warmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 1.0\nmax_seconds = 60.0"))
    lab = Lab.load(path)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(run=lab.run()), daemon=True)
    thread.start()
    victim = lab3.boards[0]
    poll("a runner on board-a", lambda: runner_on(victim))
    (running,) = poll("board-a's running job", lambda: [j for j in jobs(store_path).values()
                                                       if j["device"] == "board-a" and j["state"] == "running"])
    victim.kill()
    thread.join(timeout=180)
    assert not thread.is_alive()
    run = outcome["run"]
    final = jobs(store_path)
    moved = final[running["id"]]
    others = [j for jid, j in final.items() if jid != running["id"]]
    assert all(j["state"] == "done" for j in others), others
    if moved["state"] == "done":
        assert moved["device"] in ("board-b", "board-c") and moved["attempts"] >= 2
    else:
        assert moved["state"] == "failed" and "board-a" in moved["error"]
    ms = measurements(store_path)
    assert sorted(m["job_id"] for m in ms.values()) == sorted(j["id"] for j in final.values() if j["state"] == "done")
    assert not any(m["doc"]["device"] == "board-a" and m["job_id"] == running["id"] for m in ms.values())
    a = next(d for d in run.devices if d.name == "board-a")
    assert a.out_of_rotation and "unreachable" in a.out_of_rotation
    events = Store(store_path).connect().execute(
        "SELECT kind, detail FROM events WHERE job_id=? ORDER BY id", (running["id"],)).fetchall()
    requeue = [json.loads(e["detail"]) for e in events if e["kind"] == "requeued"]
    assert requeue and "board-a" in requeue[0]["reason"]


def test_sigkilled_controller_resumes_without_losing_or_repeating(tmp_path, farm_models, profiles_dir, boards):
    lab3 = boards(3, first_host=5)
    path = tmp_path / "lab.toml"
    store_path = tmp_path / "results.sqlite"
    jobs_toml = job_tables(*[([str(farm_models.manifest)], ["testboard"], f"runs = {n}") for n in (5, 6, 7)],
                           ([str(farm_models.manifest)], ["host"], ""))
    devices = lab3.device_entries() + '\n[[device]]\nname = "host"\nprofile = "host"\n'
    path.write_text(lab_text("killed", profiles_dir, store_path, devices, jobs_toml, "lease_seconds = 30",
                             defaults="warmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 0.5\nmax_seconds = 60.0"))
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(cli("lab", "run", str(path), "--progress", "jsonl"), cwd=REPO, stdout=log,
                             stderr=subprocess.STDOUT)
    poll("a done job", lambda: first.poll() is None and any(
        j["state"] == "done" for j in jobs(store_path).values()) if store_path.exists() else False)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    before = measurements(store_path)
    states = jobs(store_path)
    assert before and len(before) < len(states) == 8, "killed too late to test anything"
    done_before = {jid: j["measurement_id"] for jid, j in states.items() if j["state"] == "done"}
    second = subprocess.run(cli("lab", "run", str(path), "--resume", "--progress", "plain",
                                "--json", str(tmp_path / "out.json")),
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    after = measurements(store_path)
    final = jobs(store_path)
    assert all(j["state"] == "done" for j in final.values())
    assert sorted(m["job_id"] for m in after.values()) == sorted(final)          # each job exactly once
    for mid, m in before.items():                                               # nothing lost or changed
        assert after[mid] == m
    for jid, mid in done_before.items():                                        # finished: not re-measured
        assert final[jid]["measurement_id"] == mid
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["counts"] == {"total": 8, "done": 8, "failed": 0, "unfinished": 0} and doc["run"] == 1


def test_two_controllers_never_share_a_device(tmp_path, farm_models, profiles_dir, boards):
    lab3 = boards(3, first_host=8)
    path = tmp_path / "lab.toml"
    store_path = tmp_path / "results.sqlite"
    jobs_toml = job_tables(*[([str(farm_models.manifest)], ["testboard"], f"runs = {n}") for n in (5, 6, 7, 8)])
    path.write_text(lab_text("shared", profiles_dir, store_path, lab3.device_entries(), jobs_toml,
                             "lease_seconds = 30",  # runs of ~1 s: both controllers are up before the end
                             defaults="warmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 1.0\nmax_seconds = 60.0"))
    procs = [subprocess.Popen(cli("lab", "run", str(path), "--resume", "--progress", "jsonl"), cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    final = jobs(store_path)
    assert len(final) == 8 and all(j["state"] == "done" for j in final.values())
    ms = measurements(store_path)
    assert sorted(m["job_id"] for m in ms.values()) == sorted(final)
    # every run's own start/end (the runner's clock), stored or discarded, and every runner
    # process on each board (its work dir's runs.log: start, end or killed)
    per_device: dict[str, list[tuple[float, float]]] = {}
    for m in ms.values():
        per_device.setdefault(m["doc"]["device"], []).append((m["doc"]["started_at"], m["doc"]["finished_at"]))
    db = Store(store_path).connect()
    for r in db.execute("SELECT device, detail FROM events WHERE kind='discarded'"):
        d = json.loads(r["detail"])
        per_device.setdefault(r["device"], []).append((d["started_at"], d["finished_at"]))
    for device, intervals in per_device.items():
        assert not overlaps(intervals), f"{device} ran two jobs at once: {overlaps(intervals)}"
    for board in lab3.boards:
        runs = read_runs_log((board.folder / "fs" / "runs.log").read_text())
        assert all(r["start"] and r["end"] for r in runs.values()), f"{board.name}: a runner never ended: {runs}"
        processes = [(r["start"], r["end"]) for r in runs.values()]
        assert not overlaps(processes), f"{board.name}: two runners at once: {overlaps(processes)}"
    # both controllers did work: the controller that leased a job last before its "done" measured it
    holder: dict[str, str] = {}
    done_by: set[str] = set()
    for r in db.execute("SELECT job_id, kind, detail FROM events ORDER BY id"):
        if r["kind"] == "leased":
            holder[r["job_id"]] = json.loads(r["detail"])["owner"].split("/")[0]
        elif r["kind"] == "done":
            done_by.add(holder[r["job_id"]])
    assert len(done_by) == 2, f"one controller did every job: {done_by}"
