"""``edgekit``: the command line, a thin shell over the API.

Each subcommand lives in its own module and registers itself with :func:`register`.
This module maps :class:`EdgekitError` to a message, a hint and an exit code, in one place.
Command modules must stay cheap to import: TensorFlow and other heavy libraries are
imported inside the command bodies, so ``edgekit devices`` starts fast.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Optional, Sequence

import typer

from ..errors import EdgekitError
from . import render

COMMAND_MODULES = ("convert", "evaluate", "devices", "deploy", "edgetpu", "lab", "predict", "report", "run", "store")

app = typer.Typer(
    name="edgekit",
    help="Convert a model, measure it on devices, and learn which variant to ship.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts say "[default: 50]"; never parse them as markup
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details and show tracebacks."),
) -> None:
    render.STATE.verbose = verbose
    render.STATE.json_errors = False  # a command with --json turns it on
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _register_commands() -> None:
    """Import every command module and let it register (a missing module is an error)."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"edgekit.cli.{name}").register(app)


_register_commands()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad input, 3 conversion, 4 device, …)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rc = app(args=args, prog_name="edgekit", standalone_mode=False)
    except EdgekitError as err:
        render.error(err)
        return err.exit_code
    except KeyboardInterrupt:
        render.err_console().print("[yellow]interrupted[/]: what finished is kept in the store")
        return 130
    except SystemExit as exc:  # typer.Exit inside commands
        return int(exc.code or 0)
    except Exception as exc:  # click's usage errors (typer may vendor its own click) and the rest
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "Exit" in kinds:
            return int(getattr(exc, "exit_code", 0))
        if "ClickException" in kinds:
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", 2))
        if "Abort" in kinds:  # click turns Ctrl-C into Abort
            render.err_console().print("[yellow]interrupted[/]: what finished is kept in the store")
            return 130
        raise
    # with standalone_mode=False, click returns a command's `typer.Exit(code)` as the result
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
