"""Everything the CLI shows: consoles, errors, tables, progress bars, JSON.

The library reports progress through callbacks (:mod:`edgekit.progress`); this module
turns those events into Rich progress bars.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import EdgekitError
from ..progress import ProgressCallback, ProgressEvent


@dataclass
class _State:
    verbose: bool = False
    json_errors: bool = False    # a command's --json: errors are a JSON document on stdout too


STATE = _State()


def console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def err_console() -> Console:
    """stderr; off a terminal (logs, CI) messages are not hard-wrapped at 80 columns."""
    c = Console(file=sys.stderr, highlight=False)
    if not c.is_terminal:
        c.soft_wrap = True
    return c


def error_document(err: EdgekitError, measurements: Sequence[Any] = ()) -> dict[str, Any]:
    """What ``--json`` prints on stdout when a command fails (documented in the README)::

        {"error": {"type": "RuntimeIncompatible", "message": "…", "hint": "…", "exit_code": 5},
         "measurements": []}
    """
    return {"error": {"type": type(err).__name__, "message": err.message, "hint": err.hint,
                      "exit_code": err.exit_code},
            "measurements": [m.to_dict() if hasattr(m, "to_dict") else m for m in measurements]}


def error(err: EdgekitError) -> None:
    """Print an error as ``error: message`` + ``hint: next step`` (traceback only with -v); under a
    command's ``--json`` also :func:`error_document` on stdout, so stdout is always one JSON document."""
    if STATE.json_errors:
        print_json(error_document(err, getattr(err, "measurements", ())))
    c = err_console()
    if STATE.verbose:
        c.print("".join(traceback.format_exception(err)), markup=False)
    c.print(f"[bold red]error[/]: {_esc(err.message)}")
    if err.hint:
        c.print(f"[bold cyan]hint[/]: {_esc(err.hint)}")


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
          caption: Optional[str] = None, justify_numbers: bool = True) -> Table:
    """A Rich table; numeric-looking columns are right-aligned."""
    t = Table(title=title, caption=caption, header_style="bold", title_justify="left")
    for i, col in enumerate(columns):
        numeric = justify_numbers and rows and all(_numeric(r[i]) for r in rows if r[i] not in ("", None, "—"))
        t.add_column(col, justify="right" if numeric else "left")
    for r in rows:
        t.add_row(*["—" if v is None or v == "" else str(v) for v in r])
    return t


def _numeric(v: Any) -> bool:
    if isinstance(v, (int, float)):
        return True
    try:
        float(str(v).rstrip("×x%").replace(",", ""))
        return True
    except ValueError:
        return False


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[ProgressCallback]:
    """A progress callback that draws one bar per stage (on stderr, so --json stays clean)."""
    if not enabled or not sys.stderr.isatty():
        yield _log_progress
        return
    # Draw through a duplicate of the terminal's stderr: while TensorFlow converts or trains,
    # edgekit.tflite.quiet redirects fd 2 into the log, and the bars must keep moving.
    terminal = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    bars = Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[stage]}[/]"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=Console(file=terminal, highlight=False), transient=False,
                    # no sys.stdout/stderr proxies: they would carry TensorFlow's prints past the
                    # fd-level redirect of quiet_tensorflow() onto the terminal
                    redirect_stdout=False, redirect_stderr=False)
    tasks: dict[str, Any] = {}

    def callback(ev: ProgressEvent) -> None:
        if ev.stage not in tasks:
            tasks[ev.stage] = bars.add_task(ev.item, total=ev.total, stage=ev.stage)
        bars.update(tasks[ev.stage], completed=ev.done, total=ev.total,
                    description=f"{ev.item} {ev.message}".strip())

    try:
        with bars:
            yield callback
    finally:
        terminal.close()


def _log_progress(ev: ProgressEvent) -> None:
    """Non-interactive progress: one line per finished step on stderr."""
    if ev.total is not None and ev.done == 0:
        return
    total = f"/{ev.total}" if ev.total is not None else ""
    sys.stderr.write(f"[{ev.stage}] {ev.done}{total} {ev.item} {ev.message}".rstrip() + "\n")
    sys.stderr.flush()
