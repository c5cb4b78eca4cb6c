"""``edgekit lab serve``: the live, read-only lab dashboard (:mod:`edgekit.farm.dashboard`)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from rich.markup import escape

from . import render
from .options import store_option


def render_run_report(store: Any, measurement_ids: Sequence[str], out: Path, title: str) -> None:
    """A lab run's Pareto report (HTML) of its measurements, at 1 thread when it has any."""
    from ..report.api import report
    from ..report.selection import Selection

    threads = {m.settings.threads for m in store.measurements(ids=list(measurement_ids))}
    selection = Selection(measurement_ids=frozenset(measurement_ids), threads=1 if 1 in threads else None)
    report(store, out=out, formats=["html"], title=title, selection=selection)


def serve_command(
    store: Optional[str] = store_option("Results store a lab writes to: a file path, sqlite:///PATH or "
                                        "postgresql://… URL (default: $EDGEKIT_STORE, else .edgekit/results.sqlite)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; any but loopback needs a token."),
    port: int = typer.Option(8787, "--port", help="Port (0: any free port)."),
    token: Optional[str] = typer.Option(None, "--token", show_default=False,
                                        help="Require this token on every request (default: "
                                             "$EDGEKIT_DASHBOARD_TOKEN); open the page once as /?token=TOKEN."),
    poll: float = typer.Option(2.0, "--poll", help="How often the page refreshes, in seconds."),
) -> None:
    """Serve a live web dashboard of the lab: devices, queue, runs, latency trends (read-only)."""
    from ..farm.dashboard.server import DashboardServer

    server = DashboardServer(store, host=host, port=port, token=token, poll_seconds=poll,
                             report_renderer=render_run_report)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    c = render.err_console()
    c.print(f"[bold]edgekit lab dashboard[/] of {escape(server.store.location)}")
    c.print(f"  {server.url}" + (" (open it once with ?token=TOKEN)" if server.token else ""), highlight=False)
    c.print("  read-only; Ctrl-C stops it")
    # uvicorn re-raises SIGTERM after its graceful shutdown: exit cleanly (the cache is removed)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
