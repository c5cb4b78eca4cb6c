"""``edgekit report``'s selection options → a :class:`~edgekit.report.selection.Selection`.

``--run FOLDER`` reads the run's ``summary.json`` (its manifests name the artifacts; its
store is used unless ``--store`` is given); ``--lab-run LAB[#N]`` takes the measurements of
that lab run from the farm's tables (the CLI may use the farm; the report may not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ..artifact import Manifest
from ..errors import ConfigError
from ..jsonio import read_json
from ..report.selection import Selection


def _run_artifacts(run: Path) -> tuple[frozenset[str], Optional[str]]:
    summary = run / "summary.json" if run.is_dir() else run
    if not summary.is_file():
        raise ConfigError(f"--run '{run}' is not an `edgekit run` folder (no summary.json)",
                          hint="pass the folder a pipeline wrote (its [pipeline] out, e.g. edgekit-run)")
    doc = read_json(summary, what="run summary")
    shas = {a.sha256 for m in doc.get("manifests", []) if Path(m).is_file() for a in Manifest.load(m).artifacts}
    return frozenset(shas), doc.get("store")


def _lab_measurements(store: Optional[str], lab_run: str) -> frozenset[str]:
    from ..farm.queue import JobQueue, latest_run, run_key
    from ..store import open_store

    name, _, number = lab_run.partition("#")
    db = open_store(store, must_exist=True)
    assert db is not None
    try:
        if number:
            try:
                run = int(number)
            except ValueError:
                raise ConfigError(f"--lab-run {lab_run!r}: run number {number!r} is not a number",
                                  hint="write LAB or LAB#N, e.g. nightly#3") from None
        else:
            found = latest_run(db, name)
            if found is None:
                raise ConfigError(f"--lab-run: lab {name!r} has no runs in store {db.location}",
                                  hint="check the lab's name ([lab] name) and --store")
            run = found
        ids = {j.measurement_id for j in JobQueue(db, run_key(name, run)).jobs() if j.measurement_id}
    finally:
        db.close()
    if not ids:
        raise ConfigError(f"--lab-run {name}#{run} has no measurements in store", hint="run the lab first")
    return frozenset(ids)


def selection_from_options(store: Optional[str], run: Optional[Path], lab_run: Optional[str],
                           models: Optional[Sequence[str]], variants: Optional[Sequence[str]],
                           threads: int) -> tuple[Optional[str], Selection]:
    """(the store to read, what to show) from ``edgekit report``'s options."""
    if threads < 0:
        raise ConfigError(f"--threads {threads} is negative", hint="pass 1 (the paper's protocol), N, or 0 for all")
    artifacts = None
    if run is not None:
        artifacts, run_store = _run_artifacts(run)
        store = store or run_store
    measurement_ids = _lab_measurements(store, lab_run) if lab_run else None
    return store, Selection(artifacts=artifacts, measurement_ids=measurement_ids,
                            models=frozenset(models) if models else None,
                            variants=frozenset(variants) if variants else None,
                            threads=threads or None)
