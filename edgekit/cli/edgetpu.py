"""``edgekit edgetpu check | compile``: predict the Edge TPU mapping, run Coral's compiler.

``check`` exits 0 whatever the verdict (the report is the product); ``--strict`` makes it exit
1 unless every operator maps, for CI. Bad input exits 2, a failed compile 3 (see ``main``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from . import render

edgetpu_app = typer.Typer(
    name="edgetpu", no_args_is_help=True,
    help="Coral Edge TPU: predict which ops map (no Coral software needed) and compile with edgetpu_compiler.",
)


@edgetpu_app.command("check")
def check(
    model: Path = typer.Argument(..., help="The int8 .tflite (or a convert output folder / manifest.json: its int8 variant)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    all_subgraphs: bool = typer.Option(False, "--all-subgraphs", "-a",
                                       help="Predict a compile with -a: supported ops after a CPU op map to more segments."),
    min_runtime_version: Optional[int] = typer.Option(None, "--min-runtime-version", "-m",
                                                      help="The Edge TPU runtime the compile targets (default 14)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 unless every operator maps to the Edge TPU."),
) -> None:
    """Predict, per operator, what edgetpu_compiler maps to the Edge TPU and where the graph leaves it."""
    from ..edgetpu.preflight import edgetpu_check

    result = edgetpu_check(_int8_model(model), min_runtime_version=min_runtime_version, all_subgraphs=all_subgraphs)
    if json_out:
        render.print_json(result.to_dict())
    else:
        _show_check(result)
    if strict and result.verdict != "full":
        # SystemExit, not typer.Exit: main() runs click with standalone_mode=False, which turns
        # typer.Exit into a return value that main() does not pass on.
        raise SystemExit(1)


@edgetpu_app.command("compile")
def compile_(
    model: Path = typer.Argument(..., help="The int8 .tflite to compile."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for NAME_edgetpu.tflite, its .log and the compiler's output."),
    edgetpu_compiler: Optional[str] = typer.Option(None, "--edgetpu-compiler",
                                                   help="Path of edgetpu_compiler (default: $EDGEKIT_EDGETPU_COMPILER, PATH)."),
    min_runtime_version: Optional[int] = typer.Option(None, "--min-runtime-version", "-m",
                                                      help="The oldest Edge TPU runtime the model must run on."),
    num_segments: Optional[int] = typer.Option(None, "--num-segments", "-n", help="Split into N segments (pipelining)."),
    all_subgraphs: bool = typer.Option(False, "--all-subgraphs", "-a", help="Map supported ops after a CPU op too (-a)."),
    search_delegate: bool = typer.Option(False, "--search-delegate", "-d", help="Search the largest subgraph that compiles."),
    delegate_search_step: Optional[int] = typer.Option(None, "--delegate-search-step", "-k", help="Step for -d."),
    timeout: float = typer.Option(180, "--timeout", "-t", help="Compiler time limit in seconds."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compile MODEL with Coral's edgetpu_compiler and show what it mapped."""
    from ..edgetpu.compiler import edgetpu_compile

    result = edgetpu_compile(
        _int8_model(model), out, compiler=edgetpu_compiler, min_runtime_version=min_runtime_version,
        num_segments=num_segments, enable_multiple_subgraphs=all_subgraphs, search_delegate=search_delegate,
        delegate_search_step=delegate_search_step, timeout_s=timeout,
    )
    if json_out:
        render.print_json({**result.to_dict(), "output_path": str(result.output_path),
                           "log_path": str(result.log_path)})
        return
    c = render.console()
    rows = [(o.operator, o.count, o.status) for o in result.op_status]
    from rich.markup import escape

    c.print(f"[bold]edgetpu_compiler {escape(result.compiler_version)}[/]: {escape(Path(model).name)}", markup=True)
    c.print(render.table("", ("Operator", "Count", "Status"), rows))
    c.print(f"{result.ops_on_tpu} of {result.total_ops} ops on the Edge TPU, {result.ops_on_cpu} on the CPU, "
            f"{result.subgraphs} Edge TPU subgraph(s)")
    c.print(f"parameters: {_size(result.on_chip_bytes)} on-chip, {_size(result.off_chip_bytes)} off-chip "
            f"({_size(result.on_chip_remaining_bytes)} on-chip left)")
    if result.min_runtime_version is not None:
        c.print(f"needs Edge TPU runtime {result.min_runtime_version}+ (libedgetpu); older devices: recompile with -m")
    c.print(f"wrote {result.output_path} and {result.log_path}")


def _int8_model(path: Path) -> Path:
    """A .tflite as given, or the int8 variant of a convert output folder / manifest.json."""
    if path.is_dir() or path.suffix == ".json":
        from ..artifact import Manifest

        return Manifest.load(path).get("int8").path
    return path


def _show_check(result: Any) -> None:
    c = render.console()
    rows = [(r.operator, r.count, r.status, r.reason) for r in result.rows()]
    c.print(render.table(
        f"Edge TPU preflight: {result.model.name} (predicted for edgetpu_compiler 16.0, runtime {result.runtime_version}"
        f"{', -a' if result.all_subgraphs else ''})", ("Operator", "Count", "Status", "Reason"), rows))
    total = len(result.ops)
    c.print(f"[bold]verdict: {result.verdict}[/] — {result.ops_on_tpu} of {total} ops on the Edge TPU, "
            f"{result.subgraphs} Edge TPU subgraph(s)", markup=True)
    for blocker in result.blockers:
        c.print(f"the compiler cannot produce a usable model: {blocker}", markup=False)
    if result.leaves_tpu_at is not None:
        o = result.leaves_tpu_at
        c.print(f"leaves the Edge TPU at op #{o.index} {o.name}: {o.reason or o.status}", markup=False)
    elif result.verdict != "full" and result.first_cpu_op is not None:
        o = result.first_cpu_op
        c.print(f"first op on the CPU: #{o.index} {o.name}: {o.reason or o.status}", markup=False)
    if result.suggestions:
        c.print("what to change:")
        for s in result.suggestions:
            c.print(f"  - {s}", markup=False)
    for note in result.notes:
        c.print(f"note: {note}", markup=False, style="dim")
    if render.STATE.verbose:
        c.print(render.table("per operator", ("#", "Operator", "Version", "Status", "Edge TPU"),
                             [(o.index, o.name, o.version, o.status, "yes" if o.on_tpu else "no") for o in result.ops]))


def _size(n: Optional[int]) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def register(app: typer.Typer) -> None:
    """Add ``edgekit edgetpu`` to the CLI."""
    app.add_typer(edgetpu_app, name="edgetpu")
