"""``edgekit.report(...)``: read the results store, write the Pareto report in every format."""

from __future__ import annotations

import dataclasses

import datetime as _dt
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from ..store import StoreArg, close_if_owned, open_store
from ..errors import ConfigError
from ..jsonio import write_text
from ..progress import ProgressCallback, report as progress_report
from .collect import Candidate, ReportData, collect
from .content import Plot, ReportContent
from .frontiers import Frontiers, compute_frontiers, usable
from .formats import FORMATS
from .selection import Selection
from .paper import PAPER_LABEL, paper_column, paper_matches
from .recommend import Constraints, Recommendation, recommend
from .tables import (Table, candidates_table, devices_table, failed_table, paper_layout_table,
                     paper_mobilenet_table, paper_reference_table)

log = logging.getLogger(__name__)

#: the key of the device-independent (quality × size) entries in ReportResult dicts
ANY_DEVICE = ""


@dataclass(frozen=True)
class ReportResult:
    """What :func:`report` wrote and concluded.

    ``recommendations`` and ``frontiers`` are keyed by device name; the key ``""``
    (:data:`ANY_DEVICE`) holds the device-independent quality × size frontier (and the
    size-only recommendation when the store has no measurements).
    """

    out_dir: Path
    files: dict[str, list[Path]]
    recommendations: dict[str, Recommendation]
    frontiers: dict[str, list[Candidate]]
    data: ReportData

    @property
    def predicted(self) -> dict[str, list[Candidate]]:
        """Predicted (never measured) points per device; empty without ``predict``."""
        return {d: self.data.predicted_for(d) for d in self.data.predicted_devices}


def _recommend(pool: list[Any], front: Any, device: Optional[str], c: Constraints, scale: Any,
               exact: bool) -> Recommendation:
    """The recommendation among the frontier's models (beyond noise a model off the frontier is
    dominated by one on it), falling back to every model when no frontier model qualifies."""
    args = (c.max_latency_ms, c.max_size_kb, c.min_quality)
    if not exact:
        rec = recommend([x for x in pool if front.on_front(x)], device, *args, scale=scale)
        if rec.found:
            return dataclasses.replace(rec, considered=len([x for x in pool if x.device == device]))
    return recommend(pool, device, *args, scale=scale, exact=exact)


def _formats(formats: Union[str, Sequence[str]]) -> list[str]:
    items = [f.strip().lower() for f in (formats.split(",") if isinstance(formats, str) else formats) if f.strip()]
    items = ["md" if f == "markdown" else f for f in items]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise ConfigError(f"unknown report format(s) {', '.join(repr(b) for b in bad) or '(none given)'}",
                          hint=f"valid formats: {', '.join(FORMATS)}")
    return list(dict.fromkeys(items))


def _paper_flag(paper: Union[str, bool], data: ReportData) -> bool:
    if isinstance(paper, bool):
        return paper
    if paper == "auto":
        return paper_matches(data.models)
    if paper in ("always", "yes", "on"):
        return True
    if paper in ("never", "no", "off"):
        return False
    raise ConfigError(f"paper={paper!r} is not one of auto, always, never")


def build_tables(data: ReportData, fr: Frontiers, devices: Sequence[str], paper: bool) -> tuple[list[Table], list[Table]]:
    """The measured tables and the paper's tables (labelled) of a report."""
    s = data.scale
    tables: list[Table] = []
    layout = paper_layout_table(data, devices)
    if layout is not None:
        tables.append(layout)
    q = f"{s.metric} × latency"
    for d in devices:
        tables.append(candidates_table(f"front-{d}", f"{d}: Pareto frontier ({q}), fastest first",
                                       fr.front(d), s, fr.status, with_latency=True))
    tables.append(candidates_table("front-size", f"Pareto frontier: {s.metric} × model size (any device), "
                                   "smallest first", fr.front(None), s, fr.status, with_latency=False))
    for d in devices:
        here = data.for_device(d)
        t = candidates_table(f"device-{d}", f"{d}: every variant ({len(here)})", here, s, fr.status,
                             with_latency=True)
        t.collapsed = True
        tables.append(t)
    t = candidates_table("size", f"Every model file ({len(data.models)})", data.models, s, fr.status,
                         with_latency=False)
    t.collapsed = True
    tables.append(t)
    if data.devices:
        tables.append(devices_table([data.devices[d] for d in devices]))
    if data.failed:
        tables.append(failed_table([f for f in data.failed if f.device in devices]))
    from .predicted import predicted_tables

    tables.extend(predicted_tables(data))
    paper_tables = [paper_reference_table(), paper_mobilenet_table()] if paper else []
    return tables, paper_tables


def _plots(content: ReportContent, plot_dir: Path, formats: Sequence[str], progress: Optional[ProgressCallback]) -> None:
    from . import plots

    d, fr, s = content.data, content.frontiers, content.data.scale
    jobs: list[tuple[str, str, str, Any]] = [
        ("quality_vs_size", f"{s.metric} vs model size",
         "Every model file; the dashed step line is the Pareto frontier (no other file is both smaller and better). "
         + (f"Grey × are {PAPER_LABEL}'s CIFAR-10 figures, for comparison." if content.paper_in_plots else ""),
         lambda stem: plots.plot_quality_vs_size(d, fr, stem, formats, paper=content.paper_in_plots))]
    for dev in list(content.devices) + [x for x in d.predicted_devices if x not in content.devices]:
        col = content.paper_columns.get(dev) if content.paper_in_plots else None
        pred = d.predicted_for(dev)
        jobs.append((f"quality_vs_latency_{plots.slug(dev)}", f"{dev}: {s.metric} vs latency"
                     + (" (with predictions)" if pred else ""),
                     "Median latency; error bars are 95 % intervals (of the median; of top-1, Wilson); dashed "
                     "step line = Pareto frontier (beyond noise unless exact); red edge and ⚠ = flagged run."
                     + (f" Hollow markers = predicted by {dev}'s latency predictor, not measured (dotted bars: "
                        "its interval); never on the frontier." if pred else "")
                     + (f" Grey × = {PAPER_LABEL} on the matching phone." if col else ""),
                     lambda stem, dev=dev, col=col, pred=pred: plots.plot_quality_vs_latency(
                         d, fr, dev, stem, formats, col, predicted=pred)))
    if content.devices:
        jobs.append(("latency_by_model", "Latency per model and variant",
                     "One panel per device; bars are medians, whiskers their 95 % intervals (the spread the tool "
                     "printed where no samples were kept), hatched bars are flagged runs.",
                     lambda stem: plots.plot_latency_by_model(d, content.devices, stem, formats)))
        jobs.append(("float_vs_int8", "Float vs int8 speed-up",
                     "fp32 median ÷ int8 median per model and device; below the dashed 1× line int8 is slower.",
                     lambda stem: plots.plot_float_vs_int8(d, content.devices, stem, formats)))
    for i, (name, title, caption, fn) in enumerate(jobs):
        progress_report(progress, "report", f"plot {name}", i, len(jobs))
        files = fn(plot_dir / name)
        if files:
            content.figures.append(Plot(name, title, caption, tuple(files)))
    progress_report(progress, "report", "plots", len(jobs), len(jobs))


def report(store: StoreArg = None, out: Union[str, os.PathLike[str]] = "edgekit-report",
           devices: Optional[Sequence[str]] = None, quality_metric: str = "top1",
           max_latency_ms: Optional[float] = None, max_size_kb: Optional[float] = None,
           min_quality: Optional[float] = None, formats: Union[str, Sequence[str]] = FORMATS,
           paper: Union[str, bool] = "auto", title: str = "edgekit report",
           progress: Optional[ProgressCallback] = None, policy: str = "latest", flagged: str = "mark",
           manifests: Sequence[Union[str, Path]] = (), selection: Optional[Selection] = None,
           exact: bool = False, emulated: bool = False, predict: Sequence[str] = (),
           predictors: Union[str, os.PathLike[str], None] = None) -> ReportResult:
    """Write the Pareto report of a results store.

    Args:
        store: a :class:`~edgekit.store.Store`, a path or URL, or None for the default
            store (``$EDGEKIT_STORE`` or ``.edgekit/results.sqlite``).
        out: the output folder (created).
        devices: only these devices (default: every device in the store).
        quality_metric: the metric that ranks models (``top1``, ``top5`` …).
        max_latency_ms: constraint on median latency.
        max_size_kb: constraint on model file size (KiB).
        min_quality: constraint on quality, in the stored unit (``0.85`` for top-1 85 %).
        formats: any of ``html, md, json, csv, png, svg`` (a list or a comma-separated string).
        paper: ``"auto"`` (show the paper's tables when the models are its family),
            ``"always"``/``True`` or ``"never"``/``False``.
        title: the report's title.
        progress: a progress callback (stage ``"report"``).
        policy: ``"latest"`` ok measurement per (artifact, device), or ``"pooled"``.
        flagged: ``"mark"`` flagged runs (kept in frontiers) or ``"exclude"`` them.
        manifests: manifest.json files whose artifacts complement the store.
        selection: what to show (a run's artifacts, a lab run's measurements, models,
            variants, the thread count; default: everything at 1 thread).
        exact: frontiers and recommendations on point values alone; by default they decide
            only beyond noise (confidence intervals) and report tie groups.
        emulated: let measurements from emulated devices (flag ``emulated``) into frontiers
            and recommendations; by default they are shown in tables but never compared.
        predict: devices whose fitted latency predictor fills in the artifacts they have not
            measured (see :mod:`edgekit.report.predicted`): predicted points are labelled as
            such everywhere and never enter a frontier, tie group or recommendation.
        predictors: the predictor folder (default ``$EDGEKIT_PREDICTORS`` or
            ``.edgekit/predictors``).

    Returns:
        A :class:`ReportResult` with the files written per format.

    Raises:
        ConfigError: missing or empty store, unknown device, format or metric, bad constraint,
            a ``predict`` device without a fitted predictor.
    """
    fmts = _formats(formats)
    predict = list(dict.fromkeys([predict] if isinstance(predict, str) else predict))
    constraints = Constraints(max_latency_ms, max_size_kb, min_quality)
    st = open_store(store, must_exist=True)
    if st is None:
        raise ConfigError("a report needs a results store", hint="pass --store PATH or URL")
    try:
        progress_report(progress, "report", "read store", 0, None, st.location)
        only_predicted = False
        if devices and predict:  # a device given only to be predicted need not be in the store
            devices = [x for x in devices if x not in predict or st.measurements(device=x)]
            only_predicted = not devices
        data = collect(st, quality_metric=quality_metric, devices=devices or None, policy=policy,
                       manifests=manifests, selection=selection or Selection())
        if only_predicted:  # every --device is predicted: no measured device is shown
            data.candidates.clear()
            data.failed.clear()
            data.devices.clear()
        if predict:
            from .predicted import add_predictions

            progress_report(progress, "report", "predict", 0, None, ", ".join(predict))
            add_predictions(data, st, predict, selection or Selection(), predictors)
    finally:
        close_if_owned(store, st)
    devs = list(data.devices)
    fr = compute_frontiers(data, devs, flagged, exact=exact, emulated=emulated)
    recs: dict[str, Recommendation] = {}
    for d in devs:
        recs[d] = _recommend(usable(data.for_device(d), flagged, emulated), fr.latency[d], d, constraints,
                             data.scale, exact)
    if not devs:
        recs[ANY_DEVICE] = _recommend(data.models, fr.size, None, constraints, data.scale, exact)
    show_paper = _paper_flag(paper, data)
    columns = {}
    if show_paper:
        for d in devs:
            col = paper_column(d, data.devices[d].profile)
            if col:
                columns[d] = col
    # The paper's accuracies are CIFAR-10: on a quality axis they only belong beside CIFAR-10 results.
    plot_paper = show_paper and "cifar" in data.dataset.lower()
    if show_paper and not plot_paper:
        data.notes.append(f"{PAPER_LABEL}'s figures are for CIFAR-10 and its phones: they are shown in their own "
                          f"tables, not on the plots, since quality here is measured on {data.dataset or 'another dataset'}")
    tables, paper_tables = build_tables(data, fr, devs, show_paper)
    from .. import __version__

    content = ReportContent(
        title=title, generated=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        edgekit_version=__version__, data=data, devices=devs, constraints=constraints, frontiers=fr,
        recommendations=recs, tables=tables, paper_tables=paper_tables, paper_shown=show_paper,
        paper_in_plots=plot_paper,
        paper_columns=columns)

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {}
    plot_formats = [f for f in ("png", "svg") if f in fmts]
    with tempfile.TemporaryDirectory(prefix="edgekit-report-") as tmp:
        if plot_formats:
            _plots(content, out_dir / "plots", plot_formats, progress)
        elif "html" in fmts:  # the HTML embeds PNGs even when no plot files are asked for
            _plots(content, Path(tmp), ["png"], progress)
        for f in plot_formats:
            files[f] = [p for fig in content.figures for p in fig.files if p.suffix == "." + f]
        if "html" in fmts:
            from .html import render_html

            files["html"] = [write_text(out_dir / "report.html", render_html(content))]
    if "md" in fmts:
        from .markdown import render_markdown

        files["md"] = [write_text(out_dir / "report.md", render_markdown(content))]
    if "csv" in fmts:
        from .export import write_csv

        files["csv"] = [write_csv(content, out_dir / "report.csv")]
    if "json" in fmts:
        from .export import write_report_json

        files["json"] = [out_dir / "report.json"]
        write_report_json(content, out_dir / "report.json", files)
    progress_report(progress, "report", "done", 1, 1, str(out_dir))
    log.info("report written to %s (%s)", out_dir, ", ".join(sorted(files)))
    fronts: dict[str, list[Candidate]] = {ANY_DEVICE: fr.front(None)}
    fronts.update({d: fr.front(d) for d in devs})
    return ReportResult(out_dir=out_dir, files=files, recommendations=recs, frontiers=fronts, data=data)


__all__ = ["ANY_DEVICE", "FORMATS", "ReportResult", "build_tables", "report"]
