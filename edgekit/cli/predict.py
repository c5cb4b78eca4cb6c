"""``edgekit predict``: latency predictors learned from the lab's own measurements.

``edgekit predict MODEL.tflite --device D`` predicts; ``sample`` generates, converts and
measures training models through the lab; ``fit`` trains a device's predictor from the
store; ``evaluate`` scores the approaches held out by architecture; ``suggest`` names the
architectures whose predictions are least certain (the ones to measure next).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape
from typer.core import TyperGroup

from . import render
from .options import store_option


class _ModelByDefault(TyperGroup):
    """``edgekit predict MODEL …`` means ``edgekit predict model MODEL …``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["model", *args]
        return super().parse_args(ctx, args)


predict_app = typer.Typer(cls=_ModelByDefault, no_args_is_help=True,
                          help="Predict latency from a model file with a predictor learned from the lab's "
                               "measurements: predict MODEL.tflite --device D | sample | fit | evaluate | suggest.")

_DEVICE = typer.Option(..., "--device", "-d", help="The device (its name in the store / lab file).")
_STORE = store_option()
_PREDICTORS = typer.Option(None, "--predictors", help="Predictor folder (default: $EDGEKIT_PREDICTORS, else "
                           ".edgekit/predictors).")
_QUANTILE = typer.Option(0.5, "--quantile", help="Which quantile of each run's warm samples to learn (0.5: the "
                         "median; a low one resists a shared machine's interference).")
_LEVEL = typer.Option(0.9, "--level", help="Nominal coverage of the prediction intervals.")


def register(app: typer.Typer) -> None:
    app.add_typer(predict_app, name="predict")


def _open(store: Optional[str]) -> Any:
    from ..errors import ConfigError
    from ..store import open_store

    opened = open_store(store)
    if opened is None:
        raise ConfigError("the predictor learns from a results store", hint="pass --store PATH or URL")
    return opened


@predict_app.command("model")
def model_command(
    model: Path = typer.Argument(..., help="A .tflite model."),
    device: str = _DEVICE,
    predictors: Optional[Path] = _PREDICTORS,
    store: Optional[str] = _STORE,
    as_json: bool = typer.Option(False, "--json", help="Print the prediction as JSON."),
) -> None:
    """Predict MODEL's latency on DEVICE, with its interval and per-kernel breakdown."""
    from ..predict.registry import require_predictor
    from ..predict.store_samples import device_now
    from ..store import open_store

    render.STATE.json_errors = as_json
    predictor = require_predictor(device, predictors)
    runtime = profile = ""
    opened = open_store(store)
    if opened is not None:     # the device as the store last saw it: a changed runtime makes it stale
        with opened:
            runtime, profile = device_now(opened, device)
    p = predictor.predict(model, runtime or None, profile or None)
    if as_json:
        render.print_json({"model": str(model), **p.to_dict()})
        return
    c = render.console()
    lo, hi = p.interval_ms
    c.print(f"[bold]{escape(model.name)}[/] on {escape(device)}: predicted {p.predicted_ms:.3f} ms "
            f"({p.level:.0%} interval {lo:.3f} … {hi:.3f} ms; {p.approach})")
    rows = sorted(p.kernels, key=lambda k: -k["predicted_ms"])
    c.print(render.table("per kernel (largest first)", ["#", "kernel", "ops", "dtype", "MACs", "ms"],
                         [[k["index"], k["type"], "+".join(k["ops"]), k["dtype"], f"{k['macs']:,.0f}",
                           f"{k['predicted_ms']:.4f}"] for k in rows[:15]],
                         caption=f"{len(rows)} kernels; fixed overhead {p.overhead_ms:.4f} ms"))
    for w in p.warnings:
        c.print(f"[yellow]warning[/]: {escape(w)}")


@predict_app.command("sample")
def sample_command(
    device: str = _DEVICE,
    n: int = typer.Option(40, "--n", help="How many architectures of the seeded sequence (a rerun with a larger "
                          "n adds the next ones; what is measured is skipped)."),
    lab: Optional[Path] = typer.Option(None, "--lab", help="Lab file defining DEVICE (else DEVICE is a profile "
                                       "name, e.g. host)."),
    store: Optional[str] = _STORE,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the converted architectures "
                                       "(default .edgekit/predict-samples)."),
    variants: str = typer.Option("fp32,int8", "--variants", help="Variants to convert and measure."),
    seed: int = typer.Option(0, "--seed", help="Seed of the architecture sequence."),
    profiles: Optional[List[Path]] = typer.Option(None, "--profiles", help="Extra device-profile folder."),
    runs: Optional[int] = typer.Option(None, "--runs", help="Timed runs per model (default: the lab's)."),
    min_seconds: Optional[float] = typer.Option(None, "--min-seconds", help="Least timed seconds per model."),
    active: bool = typer.Option(False, "--active", help="Measure the N architectures (of 3N unmeasured candidates) "
                                "whose predictions by DEVICE's predictor are least certain."),
    predictors: Optional[Path] = _PREDICTORS,
    again: bool = typer.Option(False, "--again", help="Measure every model of the N architectures once more "
                               "(training pools the samples of all measurements of a model)."),
) -> None:
    """Generate, convert and measure training models on DEVICE through the lab (resumable)."""
    from ..api import sample_device

    settings: dict[str, Any] = {}
    if runs is not None:
        settings["runs"] = runs
    if min_seconds is not None:
        settings["min_seconds"] = min_seconds
    with render.progress_bars() as progress:
        r = sample_device(device, n, lab=lab, store=store, folder=out, seed=seed, profile_dirs=profiles or (),
                          variants=[v.strip() for v in variants.split(",") if v.strip()], settings=settings,
                          active=active, again=again, predictors=predictors,
                          progress=progress)
    c = render.console()
    c.print(f"{r.architectures} architectures ({r.models} models) in {escape(str(r.folder))}: "
            f"{r.already_measured} were measured on {escape(device)} before, {r.measured} measured now"
            + (f", [red]{r.failed_jobs} failed[/]" if r.failed_jobs else "") + f"; store {escape(r.store)}")
    for arch, why in r.failed_conversions:
        c.print(f"[yellow]not converted[/] {escape(arch)}: {escape(why)}")
    if r.failed_jobs:
        raise typer.Exit(1)


def _samples(device: str, store: Optional[str], quantile: float) -> tuple[Any, str]:
    """The device's training rows and its profile (as its latest measurement shows it)."""
    from ..predict.store_samples import device_now, samples_from_store

    with _open(store) as opened:
        return samples_from_store(opened, device, quantile), device_now(opened, device)[1]


def _figures_row(e: Any) -> list[Any]:
    return [e.approach, e.n, e.architectures, f"{e.within_5:.1%}", f"{e.within_10:.1%}", f"{e.rmspe:.1%}",
            f"{e.coverage:.1%}", f"{e.mean_interval_width:.0%}" if math.isfinite(e.mean_interval_width) else "unbounded",
            f"{e.fit_seconds:.2f}"]


_FIG_COLUMNS = ["approach", "models", "archs", "±5 %", "±10 %", "RMSPE", "coverage", "width", "fit s"]


@predict_app.command("fit")
def fit_command(
    device: str = _DEVICE,
    store: Optional[str] = _STORE,
    predictors: Optional[Path] = _PREDICTORS,
    approach: str = typer.Option("kernel-nnls", "--approach", help="kernel-nnls | kernel-gbr | model-gbr | nnls+gbr."),
    level: float = _LEVEL,
    quantile: float = _QUANTILE,
    folds: int = typer.Option(5, "--folds", help="Folds (by architecture) of the held-out accuracy."),
    as_json: bool = typer.Option(False, "--json", help="Print the held-out figures and the predictor as JSON."),
) -> None:
    """Train DEVICE's predictor from the store; prints its held-out accuracy first."""
    from ..predict.evaluate import evaluate
    from ..predict.predictor import fit
    from ..predict.registry import save_predictor

    render.STATE.json_errors = as_json
    rows, profile = _samples(device, store, quantile)
    held_out = evaluate(rows.samples, approach, folds=folds, level=level)
    predictor = fit(rows.samples, approach, level=level, device=device, profile=profile)
    path = save_predictor(predictor, device, predictors)
    if as_json:
        render.print_json({"device": device, "predictor": str(path), "held_out": {
            k: v for k, v in held_out.to_dict().items() if k != "predictions"}, "skipped": rows.skipped,
            **predictor.metadata()})
        return
    c = render.console()
    c.print(render.table(f"held out by architecture ({folds} folds), {device}", _FIG_COLUMNS, [_figures_row(held_out)]))
    skipped = ", ".join(f"{n} {r}" for r, n in rows.skipped.items())
    c.print(f"fitted {approach} on {len(rows.samples)} models in {predictor.fit_seconds:.1f} s → "
            f"{escape(str(path))}" + (f" (left out: {escape(skipped)})" if skipped else ""))


@predict_app.command("evaluate")
def evaluate_command(
    device: str = _DEVICE,
    store: Optional[str] = _STORE,
    approaches: str = typer.Option("kernel-nnls,model-gbr", "--approaches",
                                   help="Comma-separated approaches to compare (kernel-nnls, kernel-gbr, "
                                        "model-gbr, nnls+gbr)."),
    level: float = _LEVEL,
    quantile: float = _QUANTILE,
    folds: int = typer.Option(5, "--folds", help="Folds by architecture."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a predicted-vs-measured plot (PNG/SVG) of the best."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures (and every held-out prediction) as JSON."),
) -> None:
    """Score approaches on DEVICE's measurements, held out by architecture."""
    from ..predict.evaluate import compare

    render.STATE.json_errors = as_json
    rows, _ = _samples(device, store, quantile)
    results = compare(rows.samples, [a.strip() for a in approaches.split(",") if a.strip()], folds, level)
    if plot is not None:
        from ..predict.plot import predicted_vs_measured

        predicted_vs_measured(results[0], plot, title=f"{device}: {results[0].approach}, held out by architecture")
    if as_json:
        render.print_json({"device": device, "quantile": quantile, "results": [r.to_dict() for r in results]})
        return
    render.console().print(render.table(f"held out by architecture ({folds} folds), {device}", _FIG_COLUMNS,
                                        [_figures_row(r) for r in results],
                                        caption=f"{level:.0%} intervals; best first" +
                                        (f"; plot: {plot}" if plot else "")))


@predict_app.command("suggest")
def suggest_command(
    device: str = _DEVICE,
    n: int = typer.Option(10, "--n", help="How many architectures to suggest."),
    pool: int = typer.Option(30, "--pool", help="How many unmeasured architectures to consider (converted)."),
    store: Optional[str] = _STORE,
    predictors: Optional[Path] = _PREDICTORS,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder of the converted architectures."),
    seed: int = typer.Option(0, "--seed", help="Seed of the architecture sequence."),
    as_json: bool = typer.Option(False, "--json", help="Print the suggestions as JSON."),
) -> None:
    """The N unmeasured architectures whose predictions on DEVICE are least certain."""
    from ..predict.registry import require_predictor
    from ..predict.suggest import suggest_architectures

    render.STATE.json_errors = as_json
    predictor = require_predictor(device, predictors)
    with _open(store) as opened, render.progress_bars(not as_json) as progress:
        picks = suggest_architectures(predictor, opened, device, n, pool, out, seed, progress)
    if as_json:
        render.print_json({"device": device, "suggestions": picks})
        return
    render.console().print(render.table(
        f"measure next on {device}", ["architecture", "family", "variant", "predicted ms", "uncertainty"],
        [[p["arch_id"], p["family"], p["variant"], f"{p['predicted_ms']:.3f}", f"{p['uncertainty']:.3f}"]
         for p in picks], caption="uncertainty: spread of the fold predictors (log scale); "
                                  "measure them with edgekit predict sample --active"))
