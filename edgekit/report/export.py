"""Machine-readable outputs: CSV (one row per candidate) and versioned JSON (``"kind": "edgekit.report"``)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

from ..jsonio import write_json, write_text
from .collect import Candidate
from .content import ReportContent
from .predicted import PREDICTED, candidate_rows, prediction_dict
from .recommend import Recommendation

CSV_COLUMNS = ("device", "model", "family", "width", "recipe", "variant", "artifact", "artifact_sha256", "params",
               "size_bytes", "size_kb", "metric", "quality", "quality_ci_lo", "quality_ci_hi", "median_ms",
               "median_ci_lo_ms", "median_ci_hi_ms", "p10_ms", "p90_ms", "cv", "samples",
               "mean_ms", "latency_stat", "spread", "spread_lo_ms", "spread_hi_ms", "runs", "flags", "pareto",
               "measurement_id", "predicted", "interval_lo_ms", "interval_hi_ms", "interval_level",
               "prediction_warnings", "channel_multiple", "channels")


def _row(c: Candidate, content: ReportContent) -> dict[str, Any]:
    return {
        "device": c.device or "", "model": c.model, "family": c.family,
        "width": "" if c.width is None else c.width, "recipe": c.recipe, "variant": c.variant,
        "artifact": c.artifact_name, "artifact_sha256": c.artifact_sha256,
        "params": "" if c.params is None else c.params, "size_bytes": c.size_bytes,
        "size_kb": round(c.size_kb, 3), "metric": content.data.metric,
        "quality": "" if c.quality is None else c.quality,
        "quality_ci_lo": _r(c.quality_ci_lo), "quality_ci_hi": _r(c.quality_ci_hi),
        "median_ms": _r(c.median_ms), "median_ci_lo_ms": _r(c.median_ci_lo_ms), "median_ci_hi_ms": _r(c.median_ci_hi_ms), "p10_ms": _r(c.p10_ms), "p90_ms": _r(c.p90_ms),
        "cv": "" if c.cv is None else round(c.cv, 5), "samples": c.samples, "runs": c.runs,
        "mean_ms": _r(c.mean_ms), "latency_stat": c.latency_stat, "spread": c.spread,
        "spread_lo_ms": _r(c.spread_lo_ms), "spread_hi_ms": _r(c.spread_hi_ms),
        "flags": ";".join(c.flags), "measurement_id": c.measurement_id,
        "pareto": PREDICTED if c.predicted else content.frontiers.status(c),
        "predicted": "predicted" if c.predicted else "", "interval_lo_ms": _r(c.interval_lo_ms),
        "interval_hi_ms": _r(c.interval_hi_ms), "interval_level": _r(c.interval_level),
        "prediction_warnings": ";".join(c.prediction_warnings),
        "channel_multiple": "" if c.channel_multiple is None else c.channel_multiple,
        "channels": ";".join(str(x) for x in c.channels),
    }


def _r(x: Optional[float]) -> Any:
    return "" if x is None else round(x, 6)


def write_csv(content: ReportContent, path: Path) -> Path:
    """One row per candidate: each (artifact, device) measured, then every artifact with device empty.

    ``pareto`` is the quality × latency status on that device, or the quality × size
    status for the device-less rows; predicted points (column ``predicted`` = "predicted", ``pareto``
    = "predicted") follow the measured ones. Written atomically.
    """
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for c in content.data.candidates:
        if c.device in content.devices:
            w.writerow(_row(c, content))
    for c in candidate_rows(content.data):
        w.writerow(_row(c, content))
    for c in content.data.models:
        w.writerow(_row(c, content))
    return write_text(path, buf.getvalue())


def candidate_dict(c: Candidate) -> dict[str, Any]:
    """A candidate as JSON: every field, plus ``median_ci_ms`` and ``quality_ci`` as ``[lo, hi]``
    (95 %; ``quality_ci`` on the same scale as ``quality``; None where unknown)."""
    d = asdict(c)
    d["flags"] = list(c.flags)
    d["size_kb"] = round(c.size_kb, 3)
    d["label"] = c.label
    d["median_ci_ms"] = list(c.median_ci_ms) if c.median_ci_ms else None
    d["quality_ci"] = list(c.quality_ci) if c.quality_ci else None
    d["channels"] = list(c.channels)
    d["prediction_warnings"] = list(c.prediction_warnings)
    if c.predicted:
        d.update(prediction_dict(c))
    return d


def recommendation_dict(r: Recommendation) -> dict[str, Any]:
    return {
        "device": r.device,
        "constraints": asdict(r.constraints),
        "best": candidate_dict(r.best) if r.best else None,
        "qualifying": [c.label for c in r.qualifying],
        "considered": r.considered,
        "rule": r.rule,
        "indistinguishable": [candidate_dict(c) for c in r.ties],
        "closest": [{"candidate": candidate_dict(n.candidate), "broken": n.broken,
                     "violation": n.violation if n.violation != float("inf") else None} for n in r.closest],
    }


def report_document(content: ReportContent, files: dict[str, list[Path]]) -> dict[str, Any]:
    """The JSON report: provenance, constraints, recommendations, frontiers, candidates, failures."""
    d = content.data
    fr = content.frontiers
    return {
        "kind": "edgekit.report",
        "title": content.title,
        "generated": content.generated,
        "edgekit_version": content.edgekit_version,
        "store": d.store_path,
        "metric": d.metric,
        "dataset": d.dataset,
        "quality_scale": {"factor": d.scale.factor, "suffix": d.scale.suffix},
        "policy": d.policy,
        "flagged": fr.flagged,
        "exact": fr.exact,
        "decision_rule": ("exact: point values compared" if fr.exact else
                          "beyond noise: dominated only when another candidate is at least as good within the "
                          "95 % intervals on every axis and better beyond them on one; front candidates whose "
                          "intervals overlap on every axis are tie groups (ties)"),
        "constraints": asdict(content.constraints),
        "devices": {n: {**asdict(s), "threads": list(s.threads)} for n, s in d.devices.items() if n in content.devices},
        "recommendations": {k: recommendation_dict(r) for k, r in content.recommendations.items()},
        "frontiers": {
            "size": [c.artifact_sha256 for c in fr.front(None)],
            "latency": {dev: [c.artifact_sha256 for c in fr.front(dev)] for dev in content.devices},
            "ties": {"size": [[c.artifact_sha256 for c in g] for g in fr.size.ties],
                     **{dev: [[c.artifact_sha256 for c in g] for g in fr.latency[dev].ties] for dev in content.devices}},
        },
        "models": [{**candidate_dict(c), "pareto": fr.status(c)} for c in d.models],
        "candidates": [{**candidate_dict(c), "pareto": fr.status(c)} for c in d.candidates if c.device in content.devices],
        "failed": [asdict(f) for f in d.failed],
        # predicted points (not measured; never in frontiers, ties or recommendations), per device
        "predicted": {dev: [candidate_dict(c) for c in d.predicted_for(dev)] for dev in d.predicted_devices},
        "measurements_total": d.measurements_total,
        "superseded": d.superseded,
        "notes": list(d.notes),
        "paper_shown": content.paper_shown,
        "paper_columns": content.paper_columns,
        "files": {k: [p.name for p in v] for k, v in files.items()},
    }


def write_report_json(content: ReportContent, path: Path, files: dict[str, list[Path]]) -> Path:
    """Write the versioned JSON report atomically (``"schema": 1``, ``"kind": "edgekit.report"``)."""
    return write_json(path, report_document(content, files))
