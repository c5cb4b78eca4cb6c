"""A pipeline's run folder: where each stage's outputs live, named by the hash of their inputs.

Layout (everything under ``[pipeline] out``)::

    data/<dataset id>/test.npz, calibration.npz, dataset.json      (dataset.json written last)
    teachers/<name>-<key>/model.keras, train.json                   (train.json written last)
    models/<name>-<key>/model.keras, train.json                     (train.json written last)
    artifacts/<name>-<key>/manifest.json, *.tflite, convert.json    (convert.json written last)
    results.sqlite                                                   quality and measurements
    report/                                                          the Pareto report
    pipeline.json, summary.json                                      the resolved config, the last summary

A stage's output is complete when its marker file (written last, atomically) exists; an
interrupted stage leaves no marker, so the next run redoes exactly that stage.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

from ..jsonio import read_json, write_json

#: bump when the way a stage's key is computed changes (old outputs are then not reused)
KEY_FORMAT = 1


def content_key(*parts: Any) -> str:
    """A short hex hash of JSON-serialisable parts (sorted keys), for folder names."""
    doc = json.dumps([KEY_FORMAT, *parts], sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


class RunFolder:
    """Paths and completion markers of one pipeline run folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    # -- paths ------------------------------------------------------------------------
    @property
    def store_path(self) -> Path:
        return self.root / "results.sqlite"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    @property
    def config_path(self) -> Path:
        return self.root / "pipeline.json"

    def data_dir(self, dataset_id: str) -> Path:
        return self.root / "data" / dataset_id

    def teacher_dir(self, name: str, key: str) -> Path:
        return self.root / "teachers" / f"{name}-{key}"

    def model_dir(self, name: str, key: str) -> Path:
        return self.root / "models" / f"{name}-{key}"

    def artifacts_dir(self, name: str, key: str) -> Path:
        return self.root / "artifacts" / f"{name}-{key}"

    def lab_dir(self) -> Path:
        return self.root / "lab"

    # -- markers ------------------------------------------------------------------------
    @staticmethod
    def done(marker: Path) -> Optional[dict[str, Any]]:
        """The marker's document when the stage output is complete, else None."""
        if not marker.is_file():
            return None
        try:
            return read_json(marker, what="stage marker")
        except Exception:  # a corrupt marker means "not done": the stage runs again
            return None

    @staticmethod
    def mark(marker: Path, doc: dict[str, Any]) -> Path:
        """Write the marker (atomically) after every other output of the stage."""
        return write_json(marker, doc)

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)


def save_keras(model: Any, path: Path) -> Path:
    """Save a Keras model atomically: to a temporary ``.keras`` name, then rename."""
    from ..tflite.quiet import quiet_tensorflow

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        with quiet_tensorflow():
            model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
