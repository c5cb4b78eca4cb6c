"""``edgekit report``: the Pareto report of a results store (HTML, Markdown, CSV, JSON, plots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape

from . import render
from .options import store_option


def _quality(text: Optional[str]) -> Optional[float]:
    """``85%``, ``0.85`` or ``85`` → 0.85 (:func:`edgekit.quality.parse_fraction`)."""
    from ..quality import parse_fraction

    return None if text is None else parse_fraction(text, "--min-quality")


def report_command(
    store: Optional[str] = store_option(),
    out: Path = typer.Option(Path("edgekit-report"), "--out", "-o", help="Output folder."),
    device: Optional[List[str]] = typer.Option(None, "--device", "-d", help="Only this device (repeatable)."),
    quality: str = typer.Option("top1", "--quality", help="Quality metric that ranks models."),
    max_latency_ms: Optional[float] = typer.Option(None, "--max-latency-ms", help="Median latency limit (ms)."),
    max_size_kb: Optional[float] = typer.Option(None, "--max-size-kb", help="Model file size limit (KB)."),
    min_quality: Optional[str] = typer.Option(None, "--min-quality",
                                              help="Lowest acceptable quality: 85%, 0.85 or 85 (all mean 85 %)."),
    formats: str = typer.Option("html,md,json,csv,png,svg", "--format", "-f",
                                help="Comma-separated: html, md, json, csv, png, svg."),
    paper: str = typer.Option("auto", "--paper", help="Show the paper's tables: auto | always | never."),
    title: str = typer.Option("edgekit report", "--title", help="Report title."),
    policy: str = typer.Option("latest", "--policy", help="Repeated runs: latest ok run, or pooled samples."),
    exclude_flagged: bool = typer.Option(False, "--exclude-flagged",
                                         help="Leave noisy/throttled runs out of frontiers and recommendations."),
    manifest: Optional[List[Path]] = typer.Option(None, "--manifest", help="manifest.json of `edgekit convert` "
                                                  "whose artifacts complement the store (repeatable)."),
    run: Optional[Path] = typer.Option(None, "--run", help="Only the models of this `edgekit run` folder "
                                       "(and its store, unless --store is given)."),
    lab_run: Optional[str] = typer.Option(None, "--lab-run", help="Only the measurements of this lab run: "
                                          "LAB (its newest run) or LAB#N."),
    model: Optional[List[str]] = typer.Option(None, "--model", help="Only this model (repeatable)."),
    variant: Optional[List[str]] = typer.Option(None, "--variant", help="Only this variant (repeatable)."),
    threads: int = typer.Option(1, "--threads", help="Compare runs with this many threads (0: every thread "
                                "count, which mixes unlike runs)."),
    exact: bool = typer.Option(False, "--exact", help="Frontiers and recommendations on point values alone "
                               "(by default they decide only beyond noise and list tie groups)."),
    include_emulated: bool = typer.Option(False, "--include-emulated", help="Compare measurements from emulated "
                                          "devices too (their timings say nothing about real hardware)."),
    predict: Optional[List[str]] = typer.Option(None, "--predict", help="Add predicted points for the models "
                                                "this device has not measured, from its fitted latency predictor "
                                                "(repeatable; labelled predicted, never on a frontier)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Which model to ship on which device: Pareto frontiers, recommendation, tables, plots."""
    from ..report.api import report
    from ..report.recommend import describe
    from .report_selection import selection_from_options

    store, selection = selection_from_options(store, run, lab_run, model, variant, threads)

    with render.progress_bars(enabled=not as_json) as progress:
        result = report(store=store, out=out, devices=device or None, quality_metric=quality,
                        max_latency_ms=max_latency_ms, max_size_kb=max_size_kb, min_quality=_quality(min_quality),
                        formats=formats, paper=paper, title=title, progress=progress, policy=policy,
                        flagged="exclude" if exclude_flagged else "mark", manifests=manifest or (),
                        selection=selection, exact=exact, emulated=include_emulated, predict=predict or ())
    scale = result.data.scale
    if as_json:
        render.print_json(_json(result, describe))
        return
    c = render.console()
    rows = []
    for name, rec in result.recommendations.items():
        b = rec.best
        if b is not None:
            rows.append([name or "any (size only)", b.label, scale.show(b.quality),
                         "—" if b.median_ms is None else f"{b.median_ms:.3g}", f"{b.size_kb:.1f}",
                         ", ".join(b.flags) or "—"])
        else:
            near = "; ".join(f"{n.candidate.label}: {', '.join(n.broken)}" for n in rec.closest) or "no candidates"
            rows.append([name or "any (size only)", f"nothing qualifies — closest: {near}", "", "", "", ""])
    c.print(render.table("Recommendation", ["device", "model · variant", scale.metric, "median ms", "size KB",
                                            "flags"], rows))
    predicted = [p for group in result.predicted.values() for p in group]
    if predicted:
        c.print(render.table("Predicted, not measured (for reference: never on a frontier or recommended)",
                             ["device", "model · variant", scale.metric, "predicted ms", "interval ms", "", "stale"],
                             [[p.device or "", p.label, scale.show(p.quality), f"{p.median_ms:.3g}",
                               f"{p.interval_lo_ms:.3g}–{p.interval_hi_ms:.3g} ({(p.interval_level or 0) * 100:.0f} %)",
                               "predicted", "yes" if p.stale else "no"] for p in predicted]))
    for note in result.data.notes:
        c.print(f"[yellow]note[/]: {escape(note)}")
    for fmt, paths in result.files.items():
        shown = ", ".join(str(p) for p in paths[:3]) + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "")
        c.print(f"[bold]{fmt}[/]: {escape(shown)}")


def _json(result: Any, describe: Any) -> dict[str, Any]:
    from ..report.export import recommendation_dict

    return {
        "out_dir": str(result.out_dir),
        "files": {k: [str(p) for p in v] for k, v in result.files.items()},
        "recommendations": {k: {**recommendation_dict(r), "summary": describe(r, result.data.scale)}
                            for k, r in result.recommendations.items()},
        "frontiers": {k: [c.label for c in v] for k, v in result.frontiers.items()},
        "notes": result.data.notes,
        "predicted": {dev: [{"label": p.label, "artifact_sha256": p.artifact_sha256, "predicted": True,
                             "predicted_ms": p.median_ms, "interval_ms": [p.interval_lo_ms, p.interval_hi_ms],
                             "interval_level": p.interval_level, "stale": p.stale,
                             "warnings": list(p.prediction_warnings)} for p in group]
                      for dev, group in result.predicted.items()},
    }


def register(app: typer.Typer) -> None:
    """Add ``edgekit report`` to the CLI."""
    app.command("report")(report_command)
