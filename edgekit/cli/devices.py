"""``edgekit devices``: list the device profiles, or ``--check NAME`` one device."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from . import render
from .options import apply_connection, with_connection_options


def _connection(p: Any) -> str:
    c = p.connection
    if p.transport == "local":
        return "this host"
    if p.transport == "ssh":
        return f"{c.user + '@' if c.user else ''}{c.host}{':' + str(c.port) if c.port and c.port != 22 else ''}"
    if p.transport == "adb":
        return c.serial or (f"{c.host}:{c.port or 5555}" if c.host else "(set serial or host)")
    return f"{c.serial or '(set serial)'} via {c.server or '127.0.0.1:5037'}"


@with_connection_options
def devices_command(
    check: Optional[str] = typer.Option(None, "--check", metavar="NAME",
                                        help="Connect to device NAME: is it reachable, and what is it?"),
    profiles: list[Path] = typer.Option([], "--profiles", metavar="DIR",
                                        help="A folder of profile .toml files (wins over the shipped ones)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    **connection: Any,
) -> None:
    """List device profiles (shipped, ~/.config/edgekit/devices, --profiles DIR)."""
    from ..devices.profile import load_profiles

    if check:
        _check(check, profiles, as_json, connection)
        return
    found = load_profiles(profiles)
    if as_json:
        render.print_json([p.to_dict() for p in found.values()])
        return
    rows = [[p.name, p.kind, p.transport, _connection(p), p.abi, p.runner, ",".join(p.delegates), p.description]
            for p in found.values()]
    c = render.console()
    if not c.is_terminal:
        c.width = max(c.width, 160)
    c.print(render.table("device profiles", ["name", "kind", "transport", "connection", "ABI", "runner",
                                             "delegates", "description"], rows,
                         caption="edgekit devices --check NAME connects to one"))


def _check(name: str, profiles: list[Path], as_json: bool, connection: dict[str, Any]) -> None:
    from ..devices.check import check_device
    from ..devices.profile import get_profile

    profile = apply_connection(get_profile(name, profiles), connection)
    result = check_device(profile, profiles)
    if as_json:
        render.print_json(result.to_dict())
    else:
        c = render.console()
        if result.reachable:
            c.print(f"[bold green]{render._esc(result.name)}[/]: {render._esc(result.reason)} "
                    f"({result.seconds:.2f} s)")
            keys = ["model", "soc", "cpu", "cpu_count", "abi", "os", "os_build", "kernel", "android_release",
                    "l4t", "nvpmodel", "libedgetpu", "python_version", "runtime", "runtime_version",
                    "numpy_version", "governor", "freq_khz", "temps_c", "load_avg"]
            rows = [[k, _fmt(result.facts[k])] for k in keys if result.facts.get(k) not in (None, "", {}, [])]
            c.print(render.table(f"{result.name} facts", ["fact", "value"], rows, justify_numbers=False))
        else:
            c.print(f"[bold red]{render._esc(result.name)}[/]: not reachable — {render._esc(result.reason)}")
            if result.hint:
                c.print(f"[bold cyan]hint[/]: {render._esc(result.hint)}")
    if not result.reachable:
        raise typer.Exit(code=4)


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def register(app: typer.Typer) -> None:
    """Add ``edgekit devices`` to the CLI."""
    app.command("devices")(devices_command)
