"""The pipeline's report stage and its summary: recommendations and the two strategies.

The report is rewritten only when what it shows changed: its key hashes the store's ok
measurements, quality records and artifacts, and the report settings. The summary (the
recommended model per device, the strategies in measured numbers) is computed from the
store on every run — it is cheap and needs no TensorFlow.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from ..errors import ConfigError
from ..report.selection import Selection
from .clock import StageClock, StageTiming, forward
from .context import StageContext
from .run_folder import RunFolder, content_key
from .strategies import points_from_candidates, strategies

LOG = logging.getLogger(__name__)

MARKER = ".pipeline-report.json"


def _limit(value: float) -> Optional[float]:
    return value if value > 0 else None


def report_key(ctx: StageContext, predict: Sequence[str] = ()) -> str:
    """Changes when anything the report shows changes (a predictor refitted included)."""
    st, shas = ctx.store, ctx.artifact_shas
    meas = sorted(m.id for m in st.measurements(status="ok", samples=False) if m.artifact_sha256 in shas)
    qual = sorted((q.artifact_sha256, q.dataset, q.metric, round(q.value, 9)) for q in st.quality()
                  if q.artifact_sha256 in shas)
    key = content_key("report", meas, qual, sorted(shas), ctx.cfg.report.__dict__)
    if not predict:   # the key of a run without predictions is what it always was
        return key
    from ..predict.registry import predictor_path

    stats = {d: predictor_path(d, predictors_folder(ctx)).stat() for d in predict}
    return content_key(key, [(d, st.st_mtime_ns, st.st_size) for d, st in stats.items()])


def predictors_folder(ctx: StageContext) -> Optional[str]:
    """``[report] predictors``, or None for the registry's default folder."""
    return ctx.cfg.report.predictors or None


def predictable(ctx: StageContext) -> list[str]:
    """The unreachable devices of this run that have a fitted latency predictor."""
    from ..predict.registry import find_predictor

    out = []
    for device in ctx.unreachable:
        try:
            found = find_predictor(device, predictors_folder(ctx)) is not None
        except ConfigError as err:   # a damaged or foreign predictor file: say so, measure-only report
            ctx.notes.append(f"{device}: its latency predictor cannot be used: {err.message}")
            found = False
        if found:
            out.append(device)
    return out


def report_and_summarise(ctx: StageContext) -> tuple[StageTiming, dict[str, dict[str, Any]],
                                                       dict[str, list[str]], list[str], list[dict[str, Any]]]:
    """Write (or reuse) the report; return the timing, recommendations, files and strategies."""
    clock = StageClock("report", ctx.progress)
    r = ctx.cfg.report
    folder = ctx.folder.report_dir
    predict = predictable(ctx)
    key = report_key(ctx, predict)
    marker = folder / MARKER
    doc = RunFolder.done(marker)
    if not ctx.artifact_shas:
        ctx.notes.append("nothing to report: no model was converted")
        return clock.finish(), {}, {}, [], []
    if doc and doc.get("key") == key and all((folder / f).is_file() for f in doc.get("files_rel", [])):
        clock.cached += 1
        clock.event("report", 1, 1, "cached")
        recs = doc.get("recommendations", {})
        files = doc.get("files", {})
        ctx.predicted.update(doc.get("predicted", {}))
    else:
        from ..report.api import report

        kwargs: dict[str, Any] = {}
        if r.formats:
            kwargs["formats"] = list(r.formats)
        result = report(store=ctx.store, out=folder, quality_metric="top1", selection=_selection(ctx),
                        max_latency_ms=_limit(r.max_latency_ms), max_size_kb=_limit(r.max_size_kb),
                        min_quality=_limit(r.min_quality), paper="auto",
                        title=r.title or f"edgekit pipeline: {ctx.cfg.pipeline.name}",
                        progress=forward(ctx.progress, "report", 0, 1), predict=predict,
                        predictors=predictors_folder(ctx), **kwargs)
        recs = {dev: recommendation_dict(rec, result.data.scale) for dev, rec in result.recommendations.items()}
        files = {fmt: [str(p) for p in paths] for fmt, paths in result.files.items()}
        rel = [str(p.relative_to(folder)) for paths in result.files.values() for p in paths
               if p.is_relative_to(folder)]
        ctx.predicted.update({dev: [predicted_dict(c) for c in cands] for dev, cands in result.predicted.items()})
        RunFolder.mark(marker, {"key": key, "recommendations": recs, "files": files, "files_rel": rel,
                                "predicted": ctx.predicted})
        clock.ran += 1
    for dev, points in ctx.predicted.items():
        ctx.notes.append(f"{dev}: could not be reached; {len(points)} latenc{'y' if len(points) == 1 else 'ies'} "
                         "predicted by its latency predictor instead (labelled predicted in the report, never "
                         "measured, never recommended)")
    texts, details = summarise_strategies(ctx)
    return clock.finish(), recs, files, texts, details


def predicted_dict(c: Any) -> dict[str, Any]:
    """A predicted point of the report as plain JSON (for the run's summary)."""
    return {"label": c.label, "model": c.model, "variant": c.variant, "artifact_sha256": c.artifact_sha256,
            "predicted": True, "predicted_ms": c.median_ms,
            "interval_ms": list(c.interval_ms) if c.interval_ms else None, "interval_level": c.interval_level,
            "stale": c.stale, "warnings": list(c.prediction_warnings)}


def _selection(ctx: StageContext) -> Selection:
    """This run's artifacts only (a store shared with other runs shows them elsewhere), 1 thread
    unless the pipeline measured with more."""
    return Selection(artifacts=frozenset(ctx.artifact_shas), threads=ctx.cfg.measure.settings.threads)


def recommendation_dict(rec: Any, scale: Any = None) -> dict[str, Any]:
    """A plain, JSON-ready view of a :class:`edgekit.report.recommend.Recommendation`."""
    out: dict[str, Any] = {"device": rec.device, "found": rec.found,
                           "constraints": rec.constraints.describe(scale), "considered": rec.considered}
    best = rec.best
    if best is not None:
        out.update(model=best.model, variant=best.variant, label=best.label, quality=best.quality,
                   quality_text=scale.show(best.quality) if scale else None, median_ms=best.median_ms,
                   size_bytes=best.size_bytes, width=best.width, recipe=best.recipe)
    else:
        out["closest"] = [{"label": n.candidate.label, "broken": list(n.broken)} for n in rec.closest]
    return out


def summarise_strategies(ctx: StageContext) -> tuple[list[str], list[dict[str, Any]]]:
    """The paper's strategies from the store's points of this run (texts, details)."""
    from ..report.collect import collect

    shas = {a.sha256 for a in ctx.artifacts}
    if not shas:
        return [], []
    try:
        data = collect(ctx.store, quality_metric="top1", selection=_selection(ctx))
    except ConfigError as err:
        ctx.notes.append(f"strategies not stated: {err.message}")
        return [], []
    points = points_from_candidates(data.models, data.candidates, shas)
    found, missing = strategies(points, metric="top-1")
    for m in missing:
        ctx.notes.append(f"not stated: {m}")
    return [s.text for s in found], [s.to_dict() for s in found]
