"""Measurements the store could not take: written to a file, brought back later.

When a store write fails after measuring (disk full, a lock held too long, a read-only
file, a corrupt page), the measurement is not lost: it goes to
``edgekit-rescued-<time>-<id>.json`` next to the store (or, when that folder is not
writable, under ``$XDG_STATE_HOME/edgekit/rescued``), and ``edgekit store import FILE``
puts it back.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional, Sequence

from ..errors import ConfigError
from ..jsonio import read_json, write_json
from ..measurement import Measurement

KIND = "edgekit.rescued-measurements"


def _fallback_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "edgekit" / "rescued"


def write_rescue(measurements: Sequence[Measurement], near: Optional[Path] = None) -> Path:
    """Write ``measurements`` to a rescue file; returns its path (never raises for a full folder)."""
    name = f"edgekit-rescued-{time.strftime('%Y%m%dT%H%M%S')}-{measurements[0].id[:8]}.json"
    doc = {"kind": KIND, "measurements": [m.to_dict() for m in measurements]}
    last: Optional[OSError] = None
    for folder in ([near.parent] if near is not None else []) + [_fallback_dir(), Path.cwd()]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return write_json(folder / name, doc)
        except OSError as exc:
            last = exc
    raise OSError(f"no folder could take the rescued measurement: {last}")


def read_rescue(path: str | os.PathLike[str]) -> list[Measurement]:
    """The measurements of a rescue file (or of a lab results file's measurements list)."""
    doc = read_json(Path(path), what="rescued measurements file")
    if doc.get("kind") != KIND or not isinstance(doc.get("measurements"), list):
        raise ConfigError(f"'{path}' is not a file of rescued measurements (kind {doc.get('kind')!r})",
                          hint="pass an edgekit-rescued-*.json file named by an earlier store error")
    return [Measurement.from_dict(d) for d in doc["measurements"]]
