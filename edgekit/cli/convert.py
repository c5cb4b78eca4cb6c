"""``edgekit convert``: a model in, one ``.tflite`` per variant plus ``manifest.json`` out.

Importing this module is cheap; TensorFlow is loaded only when a variant has to be converted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from ..errors import ConversionError
from . import render

_VARIANTS_HELP = "Comma-separated: fp32, fp16, dynamic, int8, int16x8, edgetpu."


def convert_command(
    model: Path = typer.Argument(..., help="A .keras or .h5 file, a SavedModel folder, or a .tflite file "
                                 "(described, not converted)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for the .tflite files and manifest.json."),
    variants: str = typer.Option("fp32,fp16,dynamic,int8,int16x8", "--variants", help=_VARIANTS_HELP),
    calibration: Optional[str] = typer.Option(None, "--calibration", "-c",
                                              help="Calibration data: .npz (key x) / .npy file or image folder. "
                                              "Required for int8, int16x8 and edgetpu."),
    samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Calibration samples to use "
                                          "[default: 200, or all there are]."),
    io_dtype: Optional[str] = typer.Option(None, "--io-dtype", help="I/O type of the int8 variant: float32, int8 "
                                           "or uint8 [default: float32; int8 with edgetpu]."),
    debug_quantization: bool = typer.Option(False, "--debug-quantization",
                                            help="Write per-layer int8 error as OUT/<name>_int8_debug.csv."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Convert again even if the cache has the result."),
    name: Optional[str] = typer.Option(None, "--name", help="Base name of the files [default: the model's name]."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Convert a model to LiteRT variants, with sizes, operators and fidelity vs fp32."""
    from ..convert.api import convert

    with render.progress_bars(enabled=not as_json) as progress:
        manifest = convert(str(model), out, variants=variants, calibration=calibration, samples=samples,
                           io_dtype=io_dtype, debug_quantization=debug_quantization, use_cache=not no_cache,
                           name=name, progress=progress)
    if as_json:
        from ..jsonio import read_json

        render.print_json({**read_json(manifest.path, what="manifest"), "path": str(manifest.path)})
    else:
        _show(manifest)
    for failure in manifest.failures:
        render.error(ConversionError(failure.error, failure.hint or None))
    if manifest.failures:  # main() prints this one too and exits with ConversionError's code
        failed = ", ".join(f.variant for f in manifest.failures)
        raise ConversionError(
            f"{len(manifest.failures)} of {len(manifest.failures) + len(manifest.artifacts)} variants failed: {failed}",
            hint=f"the variants that converted are listed in {manifest.path}; see the errors above",
        )


def _show(manifest: Any) -> None:
    c = render.console()
    fp32 = next((a for a in manifest.artifacts if a.variant == "fp32"), None)
    rows = []
    for a in manifest.artifacts:
        fid = a.fidelity
        ratio = f"{fp32.size_bytes / a.size_bytes:.2f}×" if fp32 and a.size_bytes else None
        io = "/".join(sorted({t.dtype for t in (*a.inputs, *a.outputs)}, key=_dtype_order))
        ops = sum(o.count for o in a.ops)
        rows.append([
            a.variant, f"{a.size_bytes / 1024:.1f}", ratio, ops, io,
            None if fid is None else f"{fid.max_abs_error:.2g}",
            None if fid is None else f"{fid.cosine:.5f}",
            None if fid is None or fid.top1_agreement is None else f"{100 * fid.top1_agreement:.0f}%",
            f"{a.conversion_seconds:.2f}" if a.conversion_seconds else None,
            "yes" if a.extra.get("cached") else "no",
        ])
    calib = manifest.options.get("calibration") or {}
    caption = (f"fidelity on {calib.get('holdback')} held-back samples vs fp32" if calib.get("holdback")
               else "fidelity: no held-back calibration samples")
    table = render.table(f"{manifest.model} → {manifest.folder}",
                         ["variant", "KB", "×fp32", "ops", "I/O", "max-abs", "cosine", "top-1", "sec", "cached"],
                         rows, caption=caption)
    if not c.is_terminal:  # piped output: do not squeeze the table into 80 columns
        c.width = max(c.width, 120)
    c.print(table)
    for a in manifest.artifacts:
        debug = a.extra.get("quantization_debug") or {}
        if debug.get("csv"):
            c.print(f"[bold]per-layer int8 error[/]: {escape(str(manifest.folder / debug['csv']))}")
        elif debug.get("error"):
            c.print(f"[yellow]warning[/]: {escape(debug['error'])}")
    c.print(f"[bold]manifest[/]: {escape(str(manifest.path))}")


def _dtype_order(dtype: str) -> tuple[int, str]:
    return (0 if dtype.startswith("float") else 1, dtype)


def register(app: typer.Typer) -> None:
    """Add ``edgekit convert`` to the CLI."""
    app.command("convert")(convert_command)
