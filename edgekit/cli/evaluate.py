"""``edgekit evaluate``: quality of every variant of a manifest, with the LiteRT interpreter on this host."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from . import render
from .options import no_store_option, store_option


def evaluate_command(
    manifest: Path = typer.Argument(..., help="manifest.json written by `edgekit convert` (or its folder)."),
    data: Path = typer.Option(..., "--data", "-d", help="Labelled test data: .npz with arrays x and y."),
    metric: str = typer.Option("top1", "--metric", "-m", help="top1 or top5 accuracy."),
    store: Optional[str] = store_option(),
    no_store: bool = no_store_option("quality records"),
    dataset_name: Optional[str] = typer.Option(None, "--dataset-name", help="Dataset name [default: file stem]."),
    as_json: bool = typer.Option(False, "--json", help="Print the quality records as JSON."),
) -> None:
    """Measure each variant's accuracy on test data; writes quality.json and the store."""
    from ..artifact import Manifest
    from ..evaluate.api import evaluate
    from ..store import NO_STORE, default_store_location

    m = Manifest.load(manifest)
    target = NO_STORE if no_store else store
    with render.progress_bars(enabled=not as_json) as progress:
        records = evaluate(m, data, metric=metric, store=target, dataset_name=dataset_name, progress=progress)
    if as_json:
        render.print_json({"manifest": str(m.path), "store": None if no_store else (store or default_store_location()),
                           "records": [r.to_dict() for r in records]})
        return
    sizes = {a.sha256: a.size_bytes for a in m.artifacts}
    ref = next((r.value for r in records if r.variant == "fp32"), None)
    rows = []
    for r in records:
        delta = None if ref is None or r.variant == "fp32" else f"{100 * (r.value - ref):+.2f}"
        rows.append([r.variant, f"{sizes.get(r.artifact_sha256, 0) / 1024:.1f}", f"{100 * r.value:.2f}%", delta])
    c = render.console()
    dataset = records[0].dataset if records else ""
    c.print(render.table(f"{metric} on {dataset} ({records[0].samples if records else 0} samples)",
                         ["variant", "size KB", metric, "Δ vs fp32 (points)"], rows))
    c.print(f"[bold]quality[/]: {escape(str(m.folder / 'quality.json'))}"
            + (f"   [bold]store[/]: {escape(str(target))}" if target is not None else ""))


def register(app: typer.Typer) -> None:
    """Add ``edgekit evaluate`` to the CLI."""
    app.command("evaluate")(evaluate_command)
