"""``edgekit deploy``: measure models on one device and print (and store) the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from . import render
from .options import (apply_connection, no_store_option, settings_from_options, store_option,
                      with_connection_options, with_run_settings)



@with_connection_options
@with_run_settings
def deploy_command(
    models: list[Path] = typer.Argument(..., help=".tflite files, or a manifest.json (all its variants)."),
    device: str = typer.Option("host", "--device", "-d", help="Device profile name (see `edgekit devices`)."),
    benchmark_binary: Optional[Path] = typer.Option(None, "--benchmark-binary",
                                                    help="benchmark_model for the phone's ABI."),
    profiles: list[Path] = typer.Option([], "--profiles", metavar="DIR", help="A folder of profile .toml files."),
    store: Optional[str] = store_option(),
    no_store: bool = no_store_option("measurements"),
    as_json: bool = typer.Option(False, "--json", help="Print the measurements as JSON."),
    **options: Any,
) -> None:
    """Measure models on a device: median, p90, std, CV, init and first inference."""
    from ..devices.deploy import deploy
    from ..devices.profile import get_profile

    render.STATE.json_errors = as_json  # a failure prints render.error_document on stdout

    settings = settings_from_options(options)
    profile = get_profile(device, profiles)
    profile = apply_connection(profile, options)
    with render.progress_bars(enabled=not as_json) as progress:
        results = deploy([str(m) for m in models], device=profile, settings=settings,
                         store=False if no_store else store, profiles_dirs=profiles,
                         benchmark_binary=benchmark_binary, progress=progress)
    if as_json:
        render.print_json([m.to_dict() for m in results])
    else:
        show(results, profile.name)
    if any(m.status != "ok" for m in results):
        raise typer.Exit(code=4)


def _ms(us: Optional[float]) -> Optional[str]:
    """Milliseconds with 4 significant digits (models range from µs to seconds)."""
    if us is None:
        return None
    ms = us / 1000.0
    return f"{ms:.4g}" if ms < 1000 else f"{ms:.0f}"


def show(results: list[Any], device: str) -> None:
    """One table for the device; flags in yellow, failures in red below it."""
    c = render.console()
    if not c.is_terminal:
        c.width = max(c.width, 160)
    rows = []
    for m in results:
        s = m.stats
        flags = ", ".join(m.flags)
        rows.append([
            m.artifact_name, m.artifact_variant or None, f"{m.size_bytes / 1024:.1f}",
            _ms(s.median) if s else None, _ms(s.p90) if s else None, _ms(s.std) if s else None,
            f"{100 * s.cv:.1f}" if s else None, _ms(m.init_us), _ms(m.first_inference_us),
            len(m.samples_us) if m.samples_us else (s.count if s else 0),
            f"[yellow]{render._esc(flags)}[/]" if flags else ("[red]failed[/]" if m.status != "ok" else None),
        ])
    first = results[0] if results else None
    facts = first.facts if first else {}
    caption = " · ".join(x for x in (
        f"{facts.get('runtime', '')} {facts.get('runtime_version', '')}".strip(),
        f"runner {first.runner} {first.runner_version}" if first and first.runner_version else "",
        f"{first.settings.threads} thread(s), pinned to cpu {first.pinned_cpu}" if first and first.pinned_cpu
        else ("unpinned" if first else ""),
    ) if x)
    c.print(render.table(f"{device}: warm latency (ms)",
                         ["model", "variant", "size KB", "median", "p90", "std", "CV %", "init", "first",
                          "samples", "flags"], rows, caption=caption or None))
    for m in results:
        if m.status != "ok":
            c.print(f"[bold red]failed[/] {render._esc(m.artifact_name)}: {render._esc(m.error)}")


def register(app: typer.Typer) -> None:
    """Add ``edgekit deploy`` to the CLI."""
    app.command("deploy")(deploy_command)
