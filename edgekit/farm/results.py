"""The results file of a lab run: one versioned JSON document, the input of the gate.

Each job has its name (``model[variant] on target``), state, reason, device, the
latency statistics of its measurement, and the artifact's quality records from the
store. A baseline for :mod:`edgekit.farm.gate` is simply an earlier results file.

Measurements of several sessions list them (``sessions``: each one's median, interval,
times and, in A/B jobs, its ``pair``). An A/B job (a lab job with a ``baseline``,
:mod:`edgekit.farm.interleave`) also has ``baseline``: the in-run baseline's name,
variant, artifact, measurement id, ``latency`` summary, ``sessions``, ``quality`` and
``interleaved`` (``"inference"`` or ``"ABBA"``) — what the gate pairs with the candidate's sessions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional, Sequence

from ..errors import ConfigError
from ..jsonio import read_json, write_json
from ..latency import summarize
from ..measurement import Measurement
from .queue import JobQueue, JobRow
from ..store import Store

KIND = "edgekit.lab-results"


def job_entry(row: JobRow, queue: JobQueue, quality: dict[str, float],
              baseline_quality: Optional[dict[str, float]] = None) -> dict[str, Any]:
    """One job of the results file (``baseline_quality``: the in-run baseline artifact's)."""
    entry: dict[str, Any] = {
        "id": row.id, "name": row.label, "model": row.name, "variant": row.variant,
        "artifact_sha256": row.artifact_sha256, "target": row.target, "target_kind": row.target_kind,
        "profile": row.profile, "device": row.device, "state": row.state, "attempts": row.attempts,
        "error": row.error if row.state != "done" else None, "settings": row.settings.to_dict(),
        "measurement_id": row.measurement_id, "latency": None, "runner_seconds": None, "flags": [],
        "quality": quality,
    }
    m = queue.measurement(row.measurement_id) if row.measurement_id else None
    lat = summarize(m) if m is not None else None
    if m is not None and lat is not None:
        # median_us / p10_us / p90_us are None when the runner printed none (aggregate-only):
        # `statistic`, `spread`, `low_us`/`high_us` and `noise_us` say what it printed instead
        entry["latency"] = {**lat.to_dict(), "noise_us": lat.noise_us}
        entry["runner_seconds"] = round(m.finished_at - m.started_at, 6)
        entry["started_at"], entry["finished_at"] = m.started_at, m.finished_at
        entry["flags"] = list(m.flags)
        entry["runner"] = m.runner
        if m.sessions:
            entry["sessions"] = [dict(s) for s in m.sessions]
    if row.baseline:
        entry["baseline"] = _baseline_entry(row.baseline, queue, m, baseline_quality or {})
    return entry


def _baseline_entry(ref: dict[str, str], queue: JobQueue, m: Optional[Measurement],
                    quality: dict[str, float]) -> dict[str, Any]:
    """An A/B job's in-run baseline, as measured next to the candidate."""
    bid = m.raw.get("baseline_measurement_id") if m is not None else None
    b = queue.measurement(bid) if bid else None
    lat = summarize(b) if b is not None else None
    return {"name": ref.get("name"), "variant": ref.get("variant"), "artifact_sha256": ref.get("sha256"),
            "measurement_id": bid, "latency": {**lat.to_dict(), "noise_us": lat.noise_us} if lat else None,
            "sessions": [dict(s) for s in b.sessions] if b is not None else [], "quality": quality,
            "flags": list(b.flags) if b is not None else [],
            # how the pairs were interleaved: "inference" (one runner, A B B A … per inference) or "ABBA" (sessions)
            "interleaved": (m.raw.get("interleaved") or {}).get("order") if m is not None else None}


def artifact_quality(store: Store, sha256: str) -> dict[str, float]:
    """``{"metric@dataset": value}`` of an artifact (the latest record of each)."""
    return {f"{q.metric}@{q.dataset}": q.value for q in store.quality(artifact_sha256=sha256)}


def build_results(store: Store, lab: str, run: int, run_key: str,
                  devices: Sequence[dict[str, Any]] = (), wall_seconds: Optional[float] = None) -> dict[str, Any]:
    """The results document of run ``run`` of ``lab``, from the store."""
    queue = JobQueue(store, run_key)
    quality: dict[str, dict[str, float]] = {}
    jobs = []
    for row in queue.jobs():
        if row.artifact_sha256 not in quality:
            quality[row.artifact_sha256] = artifact_quality(store, row.artifact_sha256)
        bsha = row.baseline["sha256"] if row.baseline else None
        if bsha and bsha not in quality:
            quality[bsha] = artifact_quality(store, bsha)
        jobs.append(job_entry(row, queue, quality[row.artifact_sha256], quality.get(bsha) if bsha else None))
    counts = queue.counts()
    return {
        "kind": KIND, "lab": lab, "run": run, "store": str(store.path.resolve()) if store.path else store.location,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_seconds": round(wall_seconds, 3) if wall_seconds is not None else None,
        "counts": {"total": len(jobs), "done": counts["done"], "failed": counts["failed"],
                   "unfinished": counts["queued"] + counts["leased"] + counts["running"]},
        "devices": list(devices), "jobs": jobs,
    }


def write_results(path: str | Path, doc: dict[str, Any]) -> Path:
    """Write a results document atomically (versioned JSON)."""
    return write_json(path, doc)


def read_results(path: str | Path, what: str = "results file") -> dict[str, Any]:
    """Read a results file (e.g. a baseline), checking that it is one."""
    doc = read_json(path, what=what)
    if doc.get("kind") != KIND or not isinstance(doc.get("jobs"), list):
        raise ConfigError(f"{what} '{path}' is not an edgekit lab results file (no \"kind\": \"{KIND}\")",
                          hint="pass a file written by `edgekit lab run --json`")
    return doc
