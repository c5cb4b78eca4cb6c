"""``edgekit store``: the results store itself — bring back rescued measurements, show what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from . import render
from .options import store_option

store_app = typer.Typer(help="The results store: import rescued measurements, show what it holds.",
                        no_args_is_help=True)


@store_app.command("import")
def import_command(
    files: List[Path] = typer.Argument(..., help="edgekit-rescued-*.json files named by a store error."),
    store: Optional[str] = store_option(),
    as_json: bool = typer.Option(False, "--json", help="Print what was imported as JSON."),
) -> None:
    """Put measurements that a failing store could not take back into the store (idempotent)."""
    from ..store import import_measurements, open_store, read_rescue

    db = open_store(store)
    assert db is not None
    results = []
    try:
        for f in files:
            added, known = import_measurements(db, read_rescue(f))
            results.append({"file": str(f), "added": added, "already_stored": known})
    finally:
        db.close()
    if as_json:
        render.print_json({"store": db.location, "files": results})
        return
    for r in results:
        render.console().print(f"{escape(r['file'])}: {r['added']} measurement(s) imported, "
                               f"{r['already_stored']} already in {escape(db.location)}")


@store_app.command("info")
def info_command(
    store: Optional[str] = store_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """What the store holds: artifacts, quality records, measurements by device."""
    from ..store import open_store

    db = open_store(store, must_exist=True)
    assert db is not None
    try:
        meas = db.query("SELECT device, status, COUNT(*) AS n FROM measurements GROUP BY device, status "
                        "ORDER BY device, status")
        doc = {"store": db.location, "artifacts": len(db.artifacts()), "quality_records": len(db.quality()),
               "measurements": [{"device": r["device"], "status": r["status"], "count": int(r["n"])} for r in meas]}
    finally:
        db.close()
    if as_json:
        render.print_json(doc)
        return
    c = render.console()
    c.print(f"store {escape(doc['store'])}: {doc['artifacts']} artifacts, {doc['quality_records']} quality records")
    c.print(render.table("measurements", ["device", "status", "count"],
                         [[escape(m["device"]), m["status"], m["count"]] for m in doc["measurements"]]))


def register(app: typer.Typer) -> None:
    """Add ``edgekit store`` to the CLI."""
    app.add_typer(store_app, name="store")
