"""Three controllers share one lab through PostgreSQL; one of them is SIGKILLed mid-run.

Each controller is ``edgekit lab run LAB --resume`` in its own PID namespace, so each looks
like a controller on another host: a dead one's leases are not taken over early (as a dead
process on the same host would be) but only once they expire. The lab is four real-sshd
boards plus this host. Afterwards: every job measured exactly once, no device ran two jobs
at once (runners' own timestamps), and the victim's running job finished on another
controller after its lease expired. Synchronisation is by polling the store with a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.farm.conftest import job_tables, lab_text, overlaps

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 4.0


def poll(what: str, check: Callable[[], object], seconds: float = 90.0) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def rows(url: str, sql: str, args: tuple = ()) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as db:
        try:
            return db.execute(sql, args).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


def controller_pid(launcher: subprocess.Popen) -> int:
    """The controller itself: the one child of ``unshare --fork`` (PID 1 of its namespace)."""
    (pid,) = poll("the controller process", lambda: [
        int(p) for p in Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split()])
    return pid


def owner_prefix(pid: int) -> str:
    """How the controller ``pid`` names itself in leases: ``host:pidns:`` (see edgekit.farm.leases)."""
    ns = os.readlink(f"/proc/{pid}/ns/pid")  # "pid:[4026532…]"
    return f"{socket.gethostname()}:{ns[ns.index('[') + 1:-1]}:"


def test_three_controllers_one_killed(tmp_path, farm_models, profiles_dir, boards, pg_url):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("controllers on 'other hosts' use PID namespaces: needs root and util-linux unshare")
    lab4 = boards(4, first_host=11)
    devices = lab4.device_entries() + '\n[[device]]\nname = "host"\nprofile = "host"\n'
    jobs_toml = job_tables(*[([str(farm_models.manifest)], ["testboard"], f"runs = {n}") for n in (5, 6, 7, 8, 9)],
                           ([str(farm_models.manifest)], ["host"], ""))
    text = lab_text("pgshared", profiles_dir, tmp_path / "unused.sqlite", devices, jobs_toml,
                    f"lease_seconds = {LEASE_SECONDS}",
                    defaults="warmup_runs = 1\nwarmup_seconds = 0.0\nmin_seconds = 0.4\nmax_seconds = 60.0")
    path = tmp_path / "lab.toml"
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("store =")) + "\n")
    # two controllers get --store, the third $EDGEKIT_STORE: both ways name the PostgreSQL store
    env = {**os.environ, "EDGEKIT_STORE": pg_url}
    argv = [sys.executable, "-m", "edgekit.cli.main", "lab", "run", str(path), "--resume", "--progress", "jsonl"]
    launchers, logs = [], []
    for i in range(3):
        logs.append((tmp_path / f"controller{i}.log").open("w"))
        launchers.append(subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *argv,
             *(["--store", pg_url] if i < 2 else [])],
            cwd=REPO, env=env, stdout=logs[i], stderr=subprocess.STDOUT))
    pids = [controller_pid(p) for p in launchers]
    prefixes = [owner_prefix(pid) for pid in pids]
    assert len(set(prefixes)) == 3

    # the victim: the first controller seen running a job; kill it mid-job
    def running_of_someone() -> list[tuple[int, dict]]:
        return [(i, j) for j in rows(pg_url, "SELECT * FROM jobs WHERE state='running'")
                for i, pre in enumerate(prefixes) if (j["lease_owner"] or "").startswith(pre)]

    victim, _ = poll("a controller running a job", running_of_someone)[0]
    os.kill(pids[victim], signal.SIGKILL)
    killed_at = time.time()
    launchers[victim].wait(timeout=30)
    orphaned = {j["id"]: j for j in rows(pg_url, "SELECT * FROM jobs WHERE state IN ('leased','running') "
                                                 "AND lease_owner LIKE %s", (prefixes[victim] + "%",))}
    assert orphaned, "the victim finished its job before it was killed: nothing to take over"

    for i, p in enumerate(launchers):
        if i != victim:
            assert p.wait(timeout=240) == 0, (tmp_path / f"controller{i}.log").read_text()[-3000:]
    for log in logs:
        log.close()

    final = {j["id"]: j for j in rows(pg_url, "SELECT * FROM jobs")}
    assert len(final) == 12 and all(j["state"] == "done" for j in final.values()), final
    ms = rows(pg_url, "SELECT id, job_id, doc FROM measurements")
    assert sorted(m["job_id"] for m in ms) == sorted(final)                  # every job measured exactly once
    assert {final[m["job_id"]]["measurement_id"] for m in ms} == {m["id"] for m in ms}
    per_device: dict[str, list[tuple[float, float]]] = {}
    for m in ms:
        doc = json.loads(m["doc"])
        per_device.setdefault(doc["device"], []).append((doc["started_at"], doc["finished_at"]))
    assert set(per_device) <= {"board-a", "board-b", "board-c", "board-d", "host"} and "host" in per_device
    for device, intervals in per_device.items():
        assert not overlaps(intervals), f"{device} ran two jobs at once: {overlaps(intervals)}"

    # the victim's jobs were taken over by the survivors, and only after their leases expired
    events = rows(pg_url, "SELECT at, job_id, detail FROM events WHERE kind='leased' ORDER BY id")
    for jid, job in orphaned.items():
        takeovers = [e for e in events if e["job_id"] == jid and
                     json.loads(e["detail"]).get("took_over_from", "").startswith(prefixes[victim])]
        assert takeovers, f"job {jid} was not taken over from the killed controller"
        assert takeovers[0]["at"] >= job["lease_expires"] > killed_at - LEASE_SECONDS
    owners = {json.loads(e["detail"])["owner"].split("/")[0] for e in events}
    assert {o.rsplit(":", 2)[0] + ":" for o in owners} <= set(prefixes)  # leases only by the three controllers
