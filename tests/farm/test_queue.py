"""The job queue: insert-or-ignore, atomic claims, guarded transitions, done == stored."""

from __future__ import annotations

import threading
import time

import pytest

from edgekit.artifact import Artifact
from edgekit.farm.labfile import PlannedJob, job_id, job_key
from edgekit.farm.queue import JobQueue, latest_run, open_run
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.measurement import LatencyStats, Measurement, RunSettings


def artifact(tmp_path, name: str) -> Artifact:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(name.encode())
    return Artifact(path=path, sha256=name * 8, size_bytes=len(name), variant="int8", inputs=(), outputs=(), ops=())


def plan(tmp_path, targets: list[tuple[str, str]], n: int = 2) -> list[PlannedJob]:
    jobs = []
    for i in range(n):
        art = artifact(tmp_path, f"m{i}")
        for target, kind in targets:
            s = RunSettings(runs=5)
            jobs.append(PlannedJob(job_key("lab", art.sha256, target, s), len(jobs), art, target, kind, "p", s))
    return jobs


def measurement(job: str, device: str, samples=(100.0, 110.0, 120.0)) -> Measurement:
    return Measurement(artifact_sha256="x", artifact_name="m", device=device, profile="p", runner="edgekit-runner",
                       runner_version="1", settings=RunSettings(runs=3), samples_us=tuple(samples),
                       stats=LatencyStats.from_samples(samples), started_at=time.time() - 1, finished_at=time.time())


def test_adding_twice_inserts_once_and_ids_are_stable(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    q = JobQueue(store, "lab#1")
    jobs = plan(tmp_path, [("p", "profile")])
    assert q.add(jobs) == 2
    assert q.add(jobs) == 0
    assert [r.id for r in q.jobs()] == [job_id("lab#1", j.key) for j in jobs]
    assert JobQueue(store, "lab#2").add(jobs) == 2          # another run: other ids
    assert q.counts()["queued"] == 2
    assert latest_run(store, "lab") is None
    open_run(store, "lab", 1, "lab.toml")
    open_run(store, "lab", 2, "lab.toml")
    assert latest_run(store, "lab") == 2


def test_claims_follow_targets_and_never_hand_out_a_job_twice(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    q = JobQueue(store, "lab#1")
    q.add(plan(tmp_path, [("p", "profile"), ("dev-b", "device")], n=5))
    assert q.unfinished_for("dev-a", "p") == 5 and q.unfinished_for("dev-b", "p") == 10
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(device: str) -> None:
        wq = JobQueue(store, "lab#1")
        while (job := wq.claim(device, "p", f"c/{device}", 60)) is not None:
            assert wq.start(job.id, f"c/{device}") == 1
            assert wq.complete(job.id, f"c/{device}", measurement(job.id, device))
            with lock:
                claimed.append((job.id, device))
        store.close()

    threads = [threading.Thread(target=worker, args=(d,)) for d in ("dev-a", "dev-a2", "dev-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [c[0] for c in claimed]
    assert len(ids) == len(set(ids)) == 10
    by_id = {r.id: r for r in q.jobs()}
    for jid, device in claimed:
        assert by_id[jid].state == "done" and by_id[jid].device == device
        if by_id[jid].target_kind == "device":
            assert device == "dev-b"
    assert q.counts()["done"] == 10
    assert store.connect().execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 10


def test_a_lost_lease_never_stores_a_result(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    q = JobQueue(store, "lab#1")
    q.add(plan(tmp_path, [("p", "profile")], n=1))
    job = q.claim("dev-a", "p", "c1/dev-a", lease_seconds=0.2)
    assert q.start(job.id, "c1/dev-a") == 1
    deadline = time.monotonic() + 10
    while (taken := q.claim("dev-b", "p", "c2/dev-b", 60)) is None:   # expired: taken over
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert taken.id == job.id
    assert not q.complete(job.id, "c1/dev-a", measurement(job.id, "dev-a"))   # the old owner's result
    assert not q.fail(job.id, "c1/dev-a", "late")
    assert store.connect().execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0
    assert q.start(taken.id, "c2/dev-b") == 2
    assert q.complete(taken.id, "c2/dev-b", measurement(taken.id, "dev-b"))
    (row,) = q.jobs()
    assert (row.state, row.device, row.attempts) == ("done", "dev-b", 2)
    kinds = [r["kind"] for r in store.connect().execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["leased", "running", "leased", "discarded", "running", "done"]


def test_requeue_waits_for_the_backoff_and_fail_keeps_the_reason(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    q = JobQueue(store, "lab#1")
    q.add(plan(tmp_path, [("p", "profile")], n=2))
    first = q.claim("d", "p", "c/d", 60)
    q.start(first.id, "c/d")
    assert q.requeue(first.id, "c/d", "link dropped", delay=30)
    second = q.claim("d", "p", "c/d", 60)
    assert second.id != first.id                      # the backed-off job waits
    assert q.claim("d2", "p", "c/d2", 60) is None
    assert q.fail(second.id, "c/d", "model broken")
    rows = {r.id: r for r in q.jobs()}
    assert (rows[first.id].state, rows[first.id].error, rows[first.id].device) == ("queued", "link dropped", None)
    assert (rows[second.id].state, rows[second.id].error) == ("failed", "model broken")
    assert q.fail_queued("p", "profile", "no healthy device") == 1
    assert q.counts() == {"queued": 0, "leased": 0, "running": 0, "done": 0, "failed": 2}


def test_release_owned_requeues_only_that_controllers_jobs(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    q = JobQueue(store, "lab#1")
    q.add(plan(tmp_path, [("p", "profile")], n=3))
    a = q.claim("d1", "p", "ctl-a/d1", 60)
    q.start(a.id, "ctl-a/d1")
    b = q.claim("d2", "p", "ctl-b/d2", 60)
    assert q.release_owned("ctl-a", "stopped") == 1
    rows = {r.id: r for r in q.jobs()}
    assert rows[a.id].state == "queued" and rows[b.id].state == "leased"


@pytest.mark.parametrize("kind", ["device", "profile"], ids=["device-target", "profile-target"])
def test_claim_matches_target_kind(tmp_path, kind):
    store = Store(tmp_path / "s.sqlite")
    q = JobQueue(store, "lab#1")
    q.add(plan(tmp_path, [("x", kind)], n=1))
    if kind == "device":
        assert q.claim("other", "x", "c/o", 60) is None      # a profile named like the device does not match
        assert q.claim("x", "p", "c/x", 60) is not None
    else:
        assert q.claim("x", "q", "c/x", 60) is None
        assert q.claim("any", "x", "c/a", 60) is not None
