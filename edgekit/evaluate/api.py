"""``edgekit.evaluate``: the quality of every variant in a manifest, measured on this host
with the LiteRT interpreter (the same quantized kernels the devices run).

Results go to ``quality.json`` next to the manifest (versioned, atomic; records for other
datasets or metrics already there are kept) and, when a store is given, into the store
with the artifacts they belong to.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..store import StoreArg, close_if_owned, open_store
from ..artifact import Artifact, Manifest, sha256_file
from ..errors import ConfigError, EdgekitError
from ..jsonio import read_json, write_json
from ..measurement import QualityRecord
from ..progress import ProgressCallback, report
from ..tflite.interpreter import LiteRTModel

LOG = logging.getLogger(__name__)

METRICS = ("top1", "top5")
QUALITY_FILE = "quality.json"

Data = Union[str, Path, tuple[np.ndarray, np.ndarray], Sequence[np.ndarray]]


def evaluate(manifest: Union[Manifest, str, Path], data: Data, metric: str = "top1",
             store: StoreArg = None, dataset_name: Optional[str] = None,
             progress: Optional[ProgressCallback] = None) -> list[QualityRecord]:
    """Measure ``metric`` for every variant of ``manifest`` on labelled ``data``.

    Args:
        manifest: a Manifest, or the path of ``manifest.json`` (or of its folder).
        data: a ``.npz`` file with arrays ``x`` (inputs) and ``y`` (labels), or a tuple
            ``(x, y)``. Labels are class indices (N,) or one-hot/score rows (N, classes).
        metric: ``top1`` or ``top5`` (accuracy; top5 needs at least 5 classes).
        store: None for the default store (as in every stage), ``NO_STORE`` (or False) for
            none, a path, a URL, or a :class:`~edgekit.store.Store`.
        dataset_name: the dataset's name (default: the file's stem, or ``data``); the
            dataset id is ``NAME:`` + the first 12 hex digits of the data's sha256.
        progress: receives an ``evaluate`` event per variant.

    Returns:
        One QualityRecord per variant that runs on the host (EdgeTPU models are skipped).

    Raises:
        ConfigError: an unknown metric, unreadable or mismatched data, a missing model file.
    """
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}", hint=f"choose from: {', '.join(METRICS)}")
    m = manifest if isinstance(manifest, Manifest) else Manifest.load(manifest)
    x, y, digest, default_name = _read_data(data)
    labels = _labels(y, len(x))
    dataset = f"{dataset_name or default_name}:{digest[:12]}"
    runnable = [a for a in m.artifacts if not _is_edgetpu(a)]
    for a in m.artifacts:
        if _is_edgetpu(a):
            LOG.info("skipping %s: EdgeTPU models run only on an EdgeTPU", a.path.name)
    if not runnable:
        raise ConfigError(f"manifest '{m.path}' has no variant that runs on this host",
                          hint="EdgeTPU models are evaluated on the device; convert other variants too")
    records: list[QualityRecord] = []
    report(progress, "evaluate", runnable[0].variant, 0, len(runnable))
    for i, art in enumerate(runnable):
        scores = LiteRTModel(art.path).predict(x)
        if scores.ndim != 2:
            raise ConfigError(
                f"'{art.path.name}' outputs shape {scores.shape[1:]} per sample, not a class-score vector",
                hint="top1/top5 accuracy needs a classifier with outputs (classes,)",
            )
        value = accuracy(scores, labels, 5 if metric == "top5" else 1)
        records.append(QualityRecord(
            artifact_sha256=art.sha256, variant=art.variant, dataset=dataset, metric=metric, value=value,
            samples=int(len(x)), created=time.time(),
            model=str(art.extra.get("model", {}).get("name") or Path(m.model).stem or m.model),
        ))
        report(progress, "evaluate", art.variant, i + 1, len(runnable), f"{metric} {value:.4f}")
    _write_quality(m, records)
    _store(store, runnable, records)
    return records


def accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Top-k accuracy of class ``scores`` (N, classes) against integer ``labels`` (N,)."""
    classes = scores.shape[1]
    if k > classes:
        raise ConfigError(f"top{k} needs at least {k} classes; the model has {classes}",
                          hint="use --metric top1")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ConfigError(f"labels range {labels.min()}..{labels.max()}, but the model has {classes} classes",
                          hint="check that the labels belong to this model's classes (0-based)")
    if k == 1:
        hits = scores.argmax(axis=1) == labels
    else:
        top = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
        hits = (top == labels[:, None]).any(axis=1)
    return float(np.mean(hits)) if len(hits) else 0.0


def _is_edgetpu(art: Artifact) -> bool:
    return art.variant == "edgetpu" or any(op.name == "edgetpu-custom-op" for op in art.ops)


def _read_data(data: Data) -> tuple[np.ndarray, np.ndarray, str, str]:
    if isinstance(data, (str, Path)):
        path = Path(data).expanduser()
        if not path.is_file():
            raise ConfigError(f"test data '{path}' does not exist", hint="pass a .npz file with arrays x and y")
        try:
            with np.load(path, allow_pickle=False) as npz:
                missing = [k for k in ("x", "y") if k not in npz.files]
                if missing:
                    raise ConfigError(
                        f"test data '{path}' has arrays {', '.join(npz.files) or '(none)'}; "
                        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing",
                        hint="save it with numpy.savez(path, x=inputs, y=labels)",
                    )
                x, y = npz["x"], npz["y"]
        except EdgekitError:
            raise
        except Exception as exc:
            raise ConfigError(f"test data '{path}' is not a readable .npz file ({type(exc).__name__}: {exc})",
                              hint="save it with numpy.savez(path, x=inputs, y=labels)") from exc
        return _as_float(x, str(path)), y, sha256_file(path), path.stem
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
        h = hashlib.sha256()
        for a in (x, y):
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return _as_float(x, "x"), y, h.hexdigest(), "data"
    raise ConfigError(f"cannot read test data from a {type(data).__name__}",
                      hint="pass a .npz path or a tuple (x, y)")


def _as_float(x: np.ndarray, what: str) -> np.ndarray:
    if x.dtype == object or x.dtype.kind not in "iuf":
        raise ConfigError(f"test inputs {what} have dtype {x.dtype}, which is not numeric",
                          hint="save the inputs as float32, scaled like the training data")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ConfigError(f"test inputs {what} hold NaN or Inf values", hint="drop or fix those samples")
    return x


def _labels(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if len(y) != n:
        raise ConfigError(f"test data has {n} inputs but {len(y)} labels", hint="x and y must have the same length")
    if y.ndim == 2:
        return y.argmax(axis=1).astype(np.int64)  # one-hot (or scores)
    if y.ndim != 1:
        raise ConfigError(f"labels have shape {y.shape}; expected (N,) class indices or (N, classes) one-hot")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ConfigError("labels are floats that are not whole numbers",
                              hint="pass class indices (integers) or one-hot rows")
    elif y.dtype.kind not in "iu":
        raise ConfigError(f"labels have dtype {y.dtype}; expected integer class indices")
    return y.astype(np.int64)


def _write_quality(m: Manifest, records: list[QualityRecord]) -> Path:
    path = m.folder / QUALITY_FILE
    keep: list[dict[str, Any]] = []
    if path.is_file():
        try:
            old = read_json(path, what="quality file")
            new_keys = {(r.artifact_sha256, r.dataset, r.metric) for r in records}
            keep = [r for r in old.get("records", [])
                    if (r.get("artifact_sha256"), r.get("dataset"), r.get("metric")) not in new_keys]
        except ConfigError as err:
            LOG.warning("replacing unreadable %s: %s", path, err.message)
    return write_json(path, {"kind": "edgekit.quality", "manifest": "manifest.json",
                             "records": keep + [r.to_dict() for r in records]})


def load_quality(path: Union[str, Path]) -> list[QualityRecord]:
    """Read the records of a ``quality.json`` (or of the one in a manifest's folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / QUALITY_FILE
    elif path.name == "manifest.json":
        path = path.with_name(QUALITY_FILE)
    doc = read_json(path, what="quality file")
    return [QualityRecord.from_dict(r) for r in doc.get("records", [])]


def _store(store: StoreArg, artifacts: list[Artifact], records: list[QualityRecord]) -> None:
    db = open_store(store)
    if db is None:
        return
    try:
        for art in artifacts:
            db.put_artifact(art)
        for rec in records:
            db.add_quality(rec)
    finally:
        close_if_owned(store, db)


__all__ = ["evaluate", "accuracy", "load_quality", "METRICS", "QUALITY_FILE"]
