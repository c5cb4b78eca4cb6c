"""Predicted points in a report: latencies from a device's fitted predictor, never measurements.

``report(predict=[DEVICE])`` adds, for every artifact of the selection that has no ok
measurement on DEVICE, a point predicted by DEVICE's latency predictor
(:mod:`edgekit.predict.registry`). Predicted points live in :attr:`ReportData.predicted`,
apart from the measured candidates, so no frontier, tie group or recommendation ever sees
them; every format labels them "predicted": hollow markers on the plots, a "predicted"
table per device, ``"predicted": true`` in report.json and the CSV.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any, Sequence

from ..errors import EdgekitError
from .candidates import Candidate, QualityScale, ReportData
from .selection import Selection
from .tables import Cell, Table, empty, fmt_kb, fmt_ms, quality_cell

log = logging.getLogger(__name__)

#: the status shown for a predicted point wherever measured points show their Pareto status
PREDICTED = "predicted"


def add_predictions(data: ReportData, store: Any, devices: Sequence[str], selection: Selection,
                    folder: str | Path | None = None) -> None:
    """Predict, on each of ``devices``, the artifacts of ``data`` it has no ok measurement of.

    Args:
        data: the collected report (its ``predicted`` and ``notes`` are extended).
        store: the open results store (which artifacts each device has measured, its runtime).
        devices: device names with a fitted predictor.
        selection: the report's selection (measurements of another thread count do not count).
        folder: the predictor folder (default ``$EDGEKIT_PREDICTORS`` or ``.edgekit/predictors``).

    Raises:
        ConfigError: a device has no fitted predictor (the message says how to fit one).
    """
    from ..predict.registry import require_predictor
    from ..predict.store_samples import device_now

    for device in dict.fromkeys(devices):
        predictor = require_predictor(device, folder)
        ok = [m for m in store.measurements(device=device, status="ok") if selection.keeps_measurement(m)]
        measured = {m.artifact_sha256 for m in ok}
        runtime, profile = device_now(store, device, selection.keeps_measurement)
        made, unbounded, skipped = 0, 0, []
        for model in data.models:
            if model.artifact_sha256 in measured:
                continue
            if model.variant == "edgetpu":
                skipped.append(f"{model.label} (an Edge TPU model: the predictor knows the CPU only)")
                continue
            path = data.artifact_paths.get(model.artifact_sha256, "")
            if not path or not Path(path).is_file():
                skipped.append(f"{model.label} (its file '{path}' is not here)")
                continue
            try:
                p = predictor.predict(path, runtime_version=runtime or None, profile=profile or None)
            except EdgekitError as err:
                skipped.append(f"{model.label} ({err.message})")
                continue
            lo, hi = p.interval_ms
            bounded = math.isfinite(hi) and hi > 0
            unbounded += not bounded
            data.predicted.append(dataclasses.replace(
                model, device=device, median_ms=p.predicted_ms, predicted=True,
                interval_lo_ms=lo if bounded else None, interval_hi_ms=hi if bounded else None,
                interval_level=p.level, prediction_warnings=tuple(p.warnings), latency_stat="predicted"))
            made += 1
        log.info("%s: %d predicted point(s), %d measured, %d not predictable", device, made, len(measured),
                 len(skipped))
        if made:
            data.notes.append(f"{device}: {made} latenc{'y' if made == 1 else 'ies'} predicted by its "
                              f"{predictor.approach} predictor (not measured): hollow markers, labelled "
                              "predicted, never on a frontier or recommended")
        if skipped:
            data.notes.append(f"{device}: not predicted: " + "; ".join(skipped))
        if unbounded:
            data.notes.append(f"{device}: {unbounded} prediction interval(s) are unbounded (shown as —): the "
                              f"predictor has too few held-out models for its {predictor.calibration.level:.0%} "
                              "level; sample more models and fit it again")
        stale = sorted({w for c in data.predicted_for(device) for w in c.prediction_warnings})
        if stale:
            data.notes.append(f"{device}: predictions may be stale: " + "; ".join(stale))


def interval_text(c: Candidate) -> str:
    iv = c.interval_ms
    return f"{fmt_ms(iv[0])}–{fmt_ms(iv[1])}" if iv else "—"


def predicted_cell(c: Candidate) -> Cell:
    """A predicted latency: the value, its interval as detail, "predicted" in the text."""
    if c.latency_ms is None:
        return empty()
    level = f"{c.interval_level * 100:.0f} % " if c.interval_level else ""
    note = f"predicted, not measured; {level}interval {interval_text(c)} ms"
    if c.interval_ms is None:
        note += " (unbounded: too few models behind the predictor)"
    if c.prediction_warnings:
        note += "; " + "; ".join(c.prediction_warnings)
    return Cell(f"{fmt_ms(c.latency_ms)} (predicted)" + (" ⚠" if c.stale else ""), round(c.latency_ms, 6),
                note=note, css="predicted")   # the interval has its own column


def predicted_table(device: str, cands: Sequence[Candidate], scale: QualityScale) -> Table:
    """The predicted points of one device, labelled as such (never a frontier status)."""
    columns = ["model", "variant", "recipe", scale.metric + (f" {scale.suffix}" if scale.suffix else ""),
               "size KB", "predicted ms", "interval ms", "level", "stale", "Pareto"]
    rows = []
    for c in cands:
        rows.append([Cell(c.model, c.model), Cell(c.variant, c.variant), Cell(c.recipe or "—", c.recipe),
                     quality_cell(c, scale), Cell(fmt_kb(c.size_kb), round(c.size_kb, 3)), predicted_cell(c),
                     Cell(interval_text(c), c.interval_lo_ms),
                     Cell(f"{c.interval_level * 100:.0f} %" if c.interval_level else "—", c.interval_level),
                     Cell("; ".join(c.prediction_warnings) or "no", "; ".join(c.prediction_warnings),
                          css="flag" if c.stale else "muted"),
                     Cell(f"{PREDICTED} (for reference)", PREDICTED, css="predicted")])
    level = next((c.interval_level for c in cands if c.interval_level), None)
    return Table(f"predicted-{device}", f"{device}: predicted latency ({len(cands)}, not measured)", columns, rows,
                 row_css=["predicted"] * len(rows),
                 caption=f"Predicted by {device}'s latency predictor for the models it has not measured; hollow "
                         "markers on the plots. Shown for reference: never on a Pareto frontier, in a tie group "
                         "or recommended. Interval: the predictor's "
                         + (f"{level * 100:.0f} % " if level else "") + "conformal interval of the latency.")


def predicted_tables(data: ReportData) -> list[Table]:
    return [predicted_table(d, data.predicted_for(d), data.scale) for d in data.predicted_devices]


def draw_predicted(ax: Any, cands: Sequence[Candidate], scale: QualityScale,
                   colors: dict[str, str]) -> tuple[list[float], list[float]]:
    """Hollow markers (edge in the variant's colour) with dotted interval bars; returns xs, ys."""
    pts = [c for c in cands if c.quality is not None and c.latency_ms is not None]
    xs = [c.latency_ms for c in pts]
    ys = [c.quality * scale.factor for c in pts]  # type: ignore[operator]
    if not pts:
        return [], []
    lo = [c.latency_ms - c.interval_ms[0] if c.interval_ms else 0.0 for c in pts]  # type: ignore[operator]
    hi = [c.interval_ms[1] - c.latency_ms if c.interval_ms else 0.0 for c in pts]  # type: ignore[operator]
    bars = ax.errorbar(xs, ys, xerr=[lo, hi], fmt="none", ecolor="#9a9a9a", elinewidth=0.9, capsize=2, zorder=2)
    for line in bars.lines[2]:
        line.set_linestyle(":")
    for c, x, y in zip(pts, xs, ys):
        ax.plot([x], [y], ls="", marker="o", ms=7, mfc="none", mec=colors.get(c.variant, "#7f7f7f"), mew=1.6,
                zorder=3)
    return xs, ys  # type: ignore[return-value]


def predicted_handle() -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="", marker="o", mfc="none", mec="#444", mew=1.6, label="predicted (hollow, not measured)")


def candidate_rows(data: ReportData) -> list[Candidate]:
    """Every predicted point, device by device."""
    return [c for d in data.predicted_devices for c in data.predicted_for(d)]


def prediction_dict(c: Candidate) -> dict[str, Any]:
    """The prediction-specific keys of a predicted point in report.json."""
    return {"predicted": True, "interval_ms": list(c.interval_ms) if c.interval_ms else None,
            "interval_level": c.interval_level, "stale": c.stale, "warnings": list(c.prediction_warnings),
            "pareto": PREDICTED}


def predicted_only(data: ReportData, measured: Sequence[str]) -> list[str]:
    """Devices with predictions but no measurement in the report."""
    return [d for d in data.predicted_devices if d not in measured]


__all__ = ["PREDICTED", "add_predictions", "candidate_rows", "draw_predicted", "predicted_cell", "predicted_handle",
           "predicted_only", "predicted_table", "predicted_tables", "prediction_dict"]
