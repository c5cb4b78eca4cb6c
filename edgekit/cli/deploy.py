"""``edgekit deploy``: measure models on one device and print (and store) the results."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import typer

from . import render



def deploy_command(
    models: list[Path] = typer.Argument(..., help=".tflite files, or a manifest.json (all its variants)."),
    device: str = typer.Option("host", "--device", "-d", help="Device profile name (see `edgekit devices`)."),
    runs: Optional[int] = typer.Option(None, "--runs", help="Timed runs, at least [default: 50]."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="Warm-up runs, at least [default: 10]."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Interpreter threads [default: 1]."),
    min_seconds: Optional[float] = typer.Option(None, "--min-seconds", help="Timed phase lasts at least S s [default: 1]."),
    warmup_seconds: Optional[float] = typer.Option(None, "--warmup-seconds",
                                                   help="Warm-up lasts at least S s [default: 0.5]."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Stop the runs after S s [default: 150]."),
    cooldown: Optional[float] = typer.Option(None, "--cooldown", help="Pause S s before each model [default: 0]."),
    no_pin: bool = typer.Option(False, "--no-pin", help="Do not pin to a big core."),
    delegate: Optional[str] = typer.Option(None, "--delegate", help="cpu, xnnpack, edgetpu, gpu, nnapi [default: cpu]."),
    benchmark_binary: Optional[Path] = typer.Option(None, "--benchmark-binary",
                                                    help="benchmark_model for the phone's ABI."),
    profiles: list[Path] = typer.Option([], "--profiles", metavar="DIR", help="A folder of profile .toml files."),
    store: Optional[Path] = typer.Option(None, "--store", help="Results store [default: .edgekit/results.sqlite]."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not store the measurements."),
    host: Optional[str] = typer.Option(None, "--host", help="Override the profile's connection host."),
    port: Optional[int] = typer.Option(None, "--port", help="Override the profile's connection port."),
    user: Optional[str] = typer.Option(None, "--user", help="Override the profile's ssh user."),
    key: Optional[str] = typer.Option(None, "--key", help="Override the profile's ssh/adb key path."),
    serial: Optional[str] = typer.Option(None, "--serial", help="Override the profile's adb serial."),
    insecure_accept_host_key: bool = typer.Option(
        False, "--insecure-accept-host-key",
        help="ssh: accept and remember an unknown host key instead of refusing it (first contact only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the measurements as JSON."),
) -> None:
    """Measure models on a device: median, p90, std, CV, init and first inference."""
    from ..devices.deploy import deploy
    from ..devices.profile import get_profile
    from ..measurement import RunSettings

    changes = {k: v for k, v in dict(runs=runs, warmup_runs=warmup, threads=threads, min_seconds=min_seconds,
                                     warmup_seconds=warmup_seconds, max_seconds=max_seconds,
                                     cooldown_seconds=cooldown, delegate=delegate).items() if v is not None}
    if no_pin:
        changes["pin"] = False
    settings = dataclasses.replace(RunSettings(), **changes)
    profile = get_profile(device, profiles)
    overrides = {k: v for k, v in dict(host=host, port=port, user=user, key=key, serial=serial).items()
                 if v is not None}
    if insecure_accept_host_key:
        overrides["insecure_accept_host_key"] = True
    if overrides:
        profile = profile.with_connection(**overrides)
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
