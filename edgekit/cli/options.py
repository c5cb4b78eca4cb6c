"""Options shared by several commands, defined once."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

import typer

STORE_HELP = ("Results store: a file path, sqlite:///PATH or postgresql://… URL "
              "[default: $EDGEKIT_STORE, else .edgekit/results.sqlite].")


def store_option(help: str = STORE_HELP) -> Any:  # noqa: A002 - typer's own keyword
    """``--store PATH|URL`` (the same default in every command)."""
    return typer.Option(None, "--store", help=help, show_default=False)


def no_store_option(what: str = "results") -> Any:
    """``--no-store``: write nothing to the store."""
    return typer.Option(False, "--no-store", help=f"Do not write the {what} to the store.")


def run_settings_parameters() -> list[inspect.Parameter]:
    """One CLI option per :class:`RunSettings` field, derived from the field (name, kind, help)."""
    from ..measurement import SETTING_FIELDS

    params = []
    for name, f in SETTING_FIELDS.items():
        meta = f.metadata
        kind = type(f.default)
        text = meta["help"]
        if meta["choices"]:
            text += f" One of: {', '.join(meta['choices'])}."
        shown = ("on" if f.default else "off") if kind is bool else f.default
        option = typer.Option(None, meta["flag"], help=f"{text} [default: {shown}]", show_default=False)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=Optional[kind]))
    return params


def settings_from_options(values: dict[str, Any], where: str = "command line") -> Any:
    """The :class:`RunSettings` the run-setting options ask for (unset ones keep the defaults)."""
    from ..measurement import SETTING_FIELDS, settings_from_mapping

    given = {k: v for k, v in values.items() if k in SETTING_FIELDS and v is not None}
    return settings_from_mapping(given, where)


def with_run_settings(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``func`` (whose ``**settings`` collects them) one option per RunSettings field."""
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    func.__signature__ = sig.replace(parameters=own + run_settings_parameters())  # type: ignore[attr-defined]
    return func


#: connection overrides (``[connection]`` fields of a profile) as command-line options
CONNECTION_OPTIONS: tuple[tuple[str, type, str, str], ...] = (
    ("host", str, "--host", "Override the profile's connection host (HOST or HOST:PORT, as `adb connect` takes it)."),
    ("port", int, "--port", "Override the profile's connection port."),
    ("user", str, "--user", "Override the profile's ssh user."),
    ("key", str, "--key", "Override the profile's ssh/adb key path."),
    ("known_hosts", str, "--known-hosts", "ssh: the known_hosts file that verifies the board's host key."),
    ("serial", str, "--serial", "Override the profile's adb serial."),
)


def with_connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``func`` (whose ``**options`` collects them) the connection-override options."""
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[kind],
                               default=typer.Option(None, flag, help=text, show_default=False))
             for name, kind, flag, text in CONNECTION_OPTIONS]
    extra.append(inspect.Parameter(
        "insecure_accept_host_key", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
        default=typer.Option(False, "--insecure-accept-host-key",
                             help="ssh: accept and save an UNKNOWN host key on first contact; a CHANGED key "
                                  "is always refused.")))
    func.__signature__ = sig.replace(parameters=own + extra)  # type: ignore[attr-defined]
    return func


def apply_connection(profile: Any, values: dict[str, Any]) -> Any:
    """``profile`` with the connection overrides given on the command line."""
    overrides = {name: values[name] for name, *_ in CONNECTION_OPTIONS if values.get(name) is not None}
    if values.get("insecure_accept_host_key"):
        overrides["insecure_accept_host_key"] = True
    return profile.with_connection(**overrides) if overrides else profile
