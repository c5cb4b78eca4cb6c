"""The report's frontiers: flagged runs marked or excluded, ties kept, missing values set apart."""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.artifact import Artifact
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.measurement import LatencyStats, Measurement, QualityRecord, RunSettings
from edgekit.report.api import report
from edgekit.report.collect import collect
from edgekit.report.frontiers import compute_frontiers

DEVICES = ["galaxy-s10", "pixel3xl"]


def test_flagged_runs_marked_by_default(paper_store: Store) -> None:
    d = collect(paper_store)
    fr = compute_frontiers(d, DEVICES)
    noisy = next(c for c in d.candidates if c.flags)
    assert fr.status(noisy) in ("front", "dominated")   # compared like any other, and marked in the tables
    assert fr.excluded(noisy) == ""


def test_flagged_runs_can_be_excluded(paper_store: Store, tmp_path: Path) -> None:
    d = collect(paper_store)
    fr = compute_frontiers(d, DEVICES, flagged="exclude")
    noisy = next(c for c in d.candidates if c.flags)
    assert fr.status(noisy) == "excluded: noisy, throttled"
    assert noisy not in fr.front("pixel3xl")
    res = report(store=paper_store, out=tmp_path / "r", formats="json,md", flagged="exclude")
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert doc["flagged"] == "exclude"
    row = next(c for c in doc["candidates"] if c["flags"])
    assert row["pareto"] == "excluded: noisy, throttled"
    assert all(not c.flags for r in res.recommendations.values() for c in r.qualifying)


def _art(name: str, size: int) -> Artifact:
    return Artifact(path=Path(f"/m/{name}_int8.tflite"), sha256=name, size_bytes=size, variant="int8", inputs=(),
                    outputs=(), ops=(), extra={"model": {"name": name}})


def _meas(sha: str, us: float) -> Measurement:
    samples = [us] * 12
    return Measurement(artifact_sha256=sha, artifact_name=sha, device="board", profile="board", runner="r",
                       runner_version="1", settings=RunSettings(), samples_us=tuple(samples),
                       stats=LatencyStats.from_samples(samples), started_at=1.0, finished_at=2.0)


def test_ties_and_unevaluated_models_in_a_report(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.sqlite")
    for name, size, q, us in (("twin-a", 1000, 0.9, 500.0), ("twin-b", 1000, 0.9, 500.0), ("slow", 2000, 0.8, 900.0),
                              ("unevaluated", 10, None, 100.0)):
        s.put_artifact(_art(name, size))
        if q is not None:
            s.add_quality(QualityRecord(name, "int8", "d", "top1", q, 100))
        s.add_measurement(_meas(name, us))
    res = report(store=s, out=tmp_path / "r", formats="json,csv,md")
    assert sorted(c.model for c in res.frontiers["board"]) == ["twin-a", "twin-b"]
    assert sorted(c.model for c in res.frontiers[""]) == ["twin-a", "twin-b"]
    doc = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert doc["frontiers"]["ties"]["board"] == [["twin-a", "twin-b"]]
    status = {c["model"]: c["pareto"] for c in doc["candidates"]}
    assert status == {"twin-a": "tie", "twin-b": "tie", "slow": "dominated", "unevaluated": "no quality"}
    # the recommendation breaks the tie deterministically (same latency and size → by name)
    assert res.recommendations["board"].best.model == "twin-a"
    assert "twin-a · int8" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
