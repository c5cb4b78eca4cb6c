"""The dashboard's read-only queries over the farm's tables and the measurements.

Every function takes a :class:`~edgekit.store.Store` and returns plain JSON-ready values;
none writes (the farm's schema is not even created: a store no lab ran on reads as empty).
SQL is portable (``?`` placeholders, window functions that SQLite ≥ 3.25 and PostgreSQL
both have), so the same queries serve a shared PostgreSQL lab.
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional, Sequence

from ...errors import StoreError
from ...store import Store
from ..run_meta import KIND as RUN_META
from .trends import job_trends

#: events that say how a device is doing (the newest one wins)
HEALTH_EVENTS = ("done", "failed", "out-of-rotation", "resting", "running", "leased", "requeued")
UNFINISHED = ("queued", "leased", "running")
STATES = ("queued", "leased", "running", "done", "failed")


def has_lab_tables(store: Store) -> bool:
    """Whether any lab ever ran on ``store`` (its farm tables exist)."""
    try:
        store.query("SELECT COUNT(*) AS n FROM farm_runs")
        return True
    except StoreError:
        return False


def version(store: Store) -> str:
    """A value that changes whenever anything the dashboard shows may have changed."""
    row = store.query(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM events) AS e, (SELECT COUNT(*) FROM measurements) AS m, "
        "(SELECT COUNT(*) FROM farm_runs) AS r, (SELECT COALESCE(MAX(updated), 0) FROM jobs) AS u")[0]
    return f"{row['e']}-{row['m']}-{row['r']}-{float(row['u']):.3f}"


def _doc(text: Optional[str]) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _controller(owner: Optional[str]) -> Optional[str]:
    """The controller part of a lease owner (``host:pidns:pid:nonce[/device]``)."""
    return owner.split("/", 1)[0] if owner else None


def devices(store: Store, now: Optional[float] = None) -> list[dict[str, Any]]:
    """Every lab device: health (newest event), current job and its lease, last job, temperatures."""
    now = time.time() if now is None else now
    names: set[str] = {r["device"] for r in store.query("SELECT DISTINCT device FROM jobs WHERE device IS NOT NULL")}
    names |= {r["device"] for r in store.query("SELECT DISTINCT device FROM events WHERE device IS NOT NULL")}
    marks = ",".join("?" * len(HEALTH_EVENTS))
    health = {r["device"]: r for r in store.query(
        "SELECT device, kind, detail, at FROM (SELECT device, kind, detail, at, ROW_NUMBER() OVER "
        f"(PARTITION BY device ORDER BY id DESC) AS rn FROM events WHERE device IS NOT NULL AND kind IN ({marks})) t "
        "WHERE rn = 1", HEALTH_EVENTS)}
    last = {r["device"]: r for r in store.query(
        "SELECT device, state, updated, error, label, lab, lease_owner, lease_expires, profile FROM (SELECT j.device, "
        "j.state, j.updated, j.error, f.label, j.lab, j.lease_owner, j.lease_expires, j.profile, ROW_NUMBER() OVER "
        "(PARTITION BY j.device ORDER BY (CASE WHEN j.state IN ('leased','running') THEN 1 ELSE 0 END) DESC, "
        "j.updated DESC) AS rn FROM jobs j JOIN farm_jobs f ON f.job_id = j.id WHERE j.device IS NOT NULL) t "
        "WHERE rn = 1")}
    counts: dict[str, dict[str, int]] = {}
    for r in store.query("SELECT device, state, COUNT(*) AS n FROM jobs WHERE device IS NOT NULL "
                         "GROUP BY device, state"):
        counts.setdefault(r["device"], {})[r["state"]] = int(r["n"])
    latest = {r["device"]: r for r in store.query(
        "SELECT device, profile, doc, at FROM (SELECT device, profile, doc, COALESCE(arrived, created) AS at, "
        "ROW_NUMBER() OVER (PARTITION BY device ORDER BY COALESCE(arrived, created) DESC, id DESC) AS rn "
        "FROM measurements) t WHERE rn = 1")}
    physical = {}
    for r in store.query("SELECT device, owner, expires FROM device_leases WHERE expires > ?", (now,)):
        if "/" in r["owner"]:
            physical[r["owner"].rsplit("/", 1)[1]] = r
    out = []
    for name in sorted(names):
        out.append(_device(name, health.get(name), last.get(name), counts.get(name, {}), latest.get(name),
                           physical.get(name), now))
    return out


def _device(name: str, event: Any, job: Any, counts: dict[str, int], measured: Any, lease: Any,
            now: float) -> dict[str, Any]:
    detail = _doc(event["detail"]) if event else {}
    state, reason = "unknown", ""
    if event is not None:
        kind = event["kind"]
        state = {"out-of-rotation": "out-of-rotation", "resting": "resting"}.get(kind, "ok")
        reason = str(detail.get("reason") or "") if state != "ok" else ""
    busy = job is not None and job["state"] in ("leased", "running")
    current = None
    if busy:
        current = {"label": job["label"], "state": job["state"], "run": job["lab"],
                   "lease_owner": _controller(job["lease_owner"]), "lease_expires": job["lease_expires"]}
    facts = _doc(measured["doc"]).get("facts", {}) if measured else {}
    temps = facts.get("temps_after_c") or facts.get("temps_before_c") or facts.get("temps_c") or {}
    return {
        "name": name,
        "profile": (job["profile"] if job else None) or (measured["profile"] if measured else None),
        "health": state, "reason": reason, "health_at": event["at"] if event else None,
        "activity": job["state"] if busy else "idle",
        "current": current,
        "lease": ({"owner": _controller(lease["owner"]), "expires": lease["expires"]} if lease else
                  ({"owner": current["lease_owner"], "expires": current["lease_expires"]} if current else None)),
        "last_job": ({"label": job["label"], "state": job["state"], "run": job["lab"], "at": job["updated"],
                      "error": job["error"] if job["state"] == "failed" else None} if job and not busy else None),
        "done": counts.get("done", 0), "failed": counts.get("failed", 0),
        "temps_c": {str(k): round(float(v), 1) for k, v in temps.items() if isinstance(v, (int, float))},
        "measured_at": measured["at"] if measured else None,
    }


def queue(store: Store, limit: int = 200) -> dict[str, Any]:
    """Unfinished jobs (running first) and the latest failures, across every run."""
    marks = ",".join("?" * len(UNFINISHED))
    cols = ("SELECT j.id, j.lab, f.label, j.state, j.device, j.attempts, j.error, j.updated, j.lease_owner, "
            "j.lease_expires FROM jobs j JOIN farm_jobs f ON f.job_id = j.id ")
    unfinished = store.query(
        cols + f"WHERE j.state IN ({marks}) ORDER BY CASE j.state WHEN 'running' THEN 0 WHEN 'leased' THEN 1 "
        "ELSE 2 END, j.lab, f.position LIMIT ?", (*UNFINISHED, limit))
    failed = store.query(cols + "WHERE j.state = 'failed' ORDER BY j.updated DESC LIMIT 20")
    total = {s: 0 for s in STATES}
    for r in store.query(f"SELECT state, COUNT(*) AS n FROM jobs WHERE state IN ({marks}) GROUP BY state",
                         UNFINISHED):
        total[r["state"]] = int(r["n"])

    def row(r: Any) -> dict[str, Any]:
        return {"id": r["id"], "run": r["lab"], "label": r["label"], "state": r["state"], "device": r["device"],
                "attempts": r["attempts"], "error": r["error"], "updated": r["updated"],
                "lease_owner": _controller(r["lease_owner"]), "lease_expires": r["lease_expires"]}
    return {"counts": {s: total[s] for s in UNFINISHED}, "jobs": [row(r) for r in unfinished],
            "failed": [row(r) for r in failed]}


def run_meta(store: Store, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The CI labels (commit, branch, ci_run) of runs ``keys``: the first ``run-meta`` event of each."""
    wanted, out = set(keys), {}
    for r in store.query("SELECT detail FROM events WHERE kind = ? ORDER BY id", (RUN_META,)):
        d = _doc(r["detail"])
        key = d.pop("run", None)
        if key in wanted and key not in out:
            out[key] = d
    return out


def runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The newest lab runs: jobs by state, start and last change, CI labels."""
    rows = store.query("SELECT lab, run, created, lab_file FROM farm_runs ORDER BY created DESC, run DESC LIMIT ?",
                       (limit,))
    keys = [f"{r['lab']}#{r['run']}" for r in rows]
    counts: dict[str, dict[str, int]] = {k: dict.fromkeys(STATES, 0) for k in keys}
    changed: dict[str, float] = {}
    if keys:
        marks = ",".join("?" * len(keys))
        for r in store.query(f"SELECT lab, state, COUNT(*) AS n, MAX(updated) AS u FROM jobs WHERE lab IN ({marks}) "
                             "GROUP BY lab, state", keys):
            counts[r["lab"]][r["state"]] = int(r["n"])
            changed[r["lab"]] = max(changed.get(r["lab"], 0.0), float(r["u"] or 0))
    meta = run_meta(store, keys)
    return [{"key": k, "lab": r["lab"], "run": int(r["run"]), "created": r["created"], "lab_file": r["lab_file"],
             "updated": changed.get(k), "counts": counts[k], "total": sum(counts[k].values()),
             **{f: meta.get(k, {}).get(f) for f in ("commit", "branch", "ci_run")}}
            for k, r in zip(keys, rows)]


def trends(store: Store, runs_per_lab: int = 20) -> list[dict[str, Any]]:
    """Per lab and job label, the latency of each of the lab's last runs (see :mod:`.trends`)."""
    recent = store.query(
        "SELECT lab, run FROM (SELECT lab, run, ROW_NUMBER() OVER (PARTITION BY lab ORDER BY run DESC) AS rn "
        "FROM farm_runs) t WHERE rn <= ?", (runs_per_lab,))
    keys = [f"{r['lab']}#{r['run']}" for r in recent]
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    jobs = store.query(
        "SELECT j.lab, f.label, j.device, j.state, j.measurement_id FROM jobs j JOIN farm_jobs f ON f.job_id = j.id "
        f"WHERE j.lab IN ({marks})", keys)
    ids = [j["measurement_id"] for j in jobs if j["measurement_id"]]
    stats: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for r in store.query(f"SELECT id, doc FROM measurements WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            d = _doc(r["doc"])
            stats[r["id"]] = {**(d.get("stats") or {}), "flags": d.get("flags") or []}
    return job_trends(jobs, stats, run_meta(store, keys))


def run_measurement_ids(store: Store, lab: str, run: int) -> list[str]:
    """The measurements of run ``run`` of ``lab`` (its done jobs)."""
    return [r["measurement_id"] for r in store.query(
        "SELECT measurement_id FROM jobs WHERE lab = ? AND measurement_id IS NOT NULL ORDER BY id",
        (f"{lab}#{run}",))]


def state(store: Store) -> dict[str, Any]:
    """Everything the page shows but the trends, in one document."""
    if not has_lab_tables(store):
        return {"version": "empty", "generated": time.time(), "store": store.location, "empty": True,
                "devices": [], "queue": {"counts": dict.fromkeys(UNFINISHED, 0), "jobs": [], "failed": []},
                "runs": []}
    return {"version": version(store), "generated": time.time(), "store": store.location, "empty": False,
            "devices": devices(store), "queue": queue(store), "runs": runs(store)}
