"""``edgekit run``: the paper's workflow end to end, from a model family to a Pareto report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from . import render


def run_command(
    pipeline: Optional[Path] = typer.Argument(None, metavar="PIPELINE.toml",
                                              help="Pipeline file (default: the embedded digits demo)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (overrides [pipeline] out)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    family_params: bool = typer.Option(False, "--family-params",
                                       help="Print the family's parameter counts beside the paper's, and exit."),
    allow_download: bool = typer.Option(False, "--allow-download",
                                        help="CIFAR-10 only: download it with keras.datasets when not found "
                                             "(needs internet)."),
) -> None:
    """Train the family, convert, evaluate, measure on the devices, and write the Pareto report.

    Every stage is cached by content: a second run with nothing changed does no work, and
    an interrupted run resumes from the stages it completed.
    """
    if family_params:
        _print_family_params(as_json)
        return
    from ..api import run_pipeline

    overrides: dict[str, Any] = {}
    if out is not None:
        overrides["pipeline.out"] = str(out.expanduser().resolve())
    if allow_download:
        overrides["dataset.allow_download"] = True
    with render.progress_bars(enabled=not as_json) as progress:
        result = run_pipeline(pipeline, overrides=overrides, progress=progress)
    if as_json:
        render.print_json(result.to_dict())
        return
    _print_summary(result)


def _print_family_params(as_json: bool) -> None:
    from ..recipes.family import family_param_table

    rows = family_param_table()
    if as_json:
        render.print_json([r.to_dict() for r in rows])
        return
    render.console().print(render.table(
        "paper-cnn parameters, ours vs the paper's",
        ["width", "ours (K)", "paper (K)", "difference"],
        [[f"{r.width:g}", f"{r.ours / 1000:.2f}", f"{r.paper / 1000:.2f}", f"{(r.ratio - 1) * 100:+.2f}%"]
         for r in rows],
        caption="on 32×32×3 inputs, 10 classes (the paper's Table 5, CIFAR-10); ours: two 32-filter convs, "
                "then 64w×2, 128w×3, 256w×2 convs and a 128w dense layer"))


def _print_summary(result: Any) -> None:
    c = render.console()
    c.print(render.table("Stages", ["stage", "status", "ran", "cached", "failed", "seconds"],
                         [[s.name, s.status, s.ran, s.cached, s.failed, f"{s.seconds:.1f}"] for s in result.stages],
                         caption=f"total {result.seconds:.1f} s"))
    if result.models:
        c.print(render.table("Models", ["model", "params", "keras top-1", "train s", "this run"],
                             [[m.name, f"{m.params:,}",
                               "—" if m.keras_top1 is None else f"{m.keras_top1 * 100:.2f}%",
                               f"{m.train_seconds:.1f}", _provenance(m)] for m in result.models]))
    rows = []
    for device, rec in result.recommendations.items():
        name = device or "any (size only)"
        if rec.get("found"):
            ms = rec.get("median_ms")
            rows.append([name, rec.get("label", ""), rec.get("quality_text") or "—",
                         "—" if ms is None else f"{ms:.3f}", f"{rec.get('size_bytes', 0) / 1024:.1f}"])
        else:
            near = "; ".join(f"{n['label']}: {', '.join(n['broken'])}" for n in rec.get("closest", []))
            rows.append([name, f"nothing meets {', '.join(rec.get('constraints', []))}"
                         + (f" — closest: {near}" if near else ""), "", "", ""])
    if rows:
        c.print(render.table("Recommended model per device", ["device", "model · variant", "top-1",
                                                               "median ms", "size KB"], rows))
    for text in result.strategies:
        c.print(f"[bold]{escape(text.split(':', 1)[0])}[/]:{escape(text.split(':', 1)[1])}")
    for note in result.notes:
        c.print(f"[yellow]note[/]: {escape(note)}")
    html = result.report_files.get("html") or result.report_files.get("md") or []
    where = html[0] if html else str(result.report_dir)
    c.print(f"[bold]report[/]: {escape(str(where))}")


def _provenance(m: Any) -> str:
    if m.recipe == "none":
        return "as given"
    return "cached" if m.cached else "trained"


def register(app: typer.Typer) -> None:
    """Add ``edgekit run`` to the CLI."""
    app.command("run")(run_command)
