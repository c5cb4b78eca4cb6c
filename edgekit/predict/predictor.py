"""A fitted latency predictor for one device (profile and runtime), with intervals.

:func:`fit` trains one approach of :mod:`edgekit.predict.regressors` on measured samples,
and calibrates its interval by cross-conformal scores: the training architectures are split
into folds, each fold is predicted by a regressor fitted on the others, and the
``|log(measured/predicted)|`` of those held-out predictions set the interval half-width
(:mod:`edgekit.predict.conformal`). The final regressor is then fitted on every sample.

A :class:`LatencyPredictor` is saved as a pickle (scikit-learn estimators inside, so load
only files you trust) holding the training set's sample ids and file hashes, the device,
the profile and the runtime version it is valid for; :meth:`LatencyPredictor.predict`
says a prediction may be stale when asked for another runtime or profile.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import ConfigError
from ..tflite.kernels import Kernel, detect_kernels
from .conformal import Calibration, log_scores
from .dataset import Sample, group_folds
from .features import model_dtype
from .regressors import APPROACHES, make_regressor

log = logging.getLogger(__name__)

FORMAT = "edgekit.latency-predictor"
FORMAT_VERSION = 1
#: the approach :func:`fit` uses unless told (the winner of benchmarks/predict_host.py)
DEFAULT_APPROACH = "kernel-nnls"


@dataclass(frozen=True)
class Prediction:
    """A predicted latency with its interval and per-kernel breakdown."""

    predicted_ms: float
    interval_ms: tuple[float, float]
    level: float
    approach: str
    device: str
    kernels: tuple[dict[str, Any], ...]
    overhead_ms: float
    warnings: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        return bool(self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {"predicted_ms": self.predicted_ms, "interval_ms": list(self.interval_ms), "level": self.level,
                "approach": self.approach, "device": self.device, "overhead_ms": self.overhead_ms,
                "kernels": [dict(k) for k in self.kernels], "stale": self.stale, "warnings": list(self.warnings)}


@dataclass
class LatencyPredictor:
    """A fitted regressor, its conformal calibration and what it is valid for."""

    approach: str
    regressor: Any
    calibration: Calibration
    device: str
    profile: str
    runtime_version: str
    training_ids: tuple[str, ...]
    training_sha256: tuple[str, ...]
    fit_seconds: float = 0.0
    created_at: float = field(default_factory=time.time)
    members: tuple[Any, ...] = ()   # the calibration folds' regressors: their spread is the uncertainty

    def uncertainty(self, kernels: Sequence[Kernel]) -> float:
        """Disagreement of the fold regressors on a model: the standard deviation of their log
        predictions (0 without members). Large where the training set is thin."""
        if not self.members or not kernels:
            return 0.0
        logs = [np.log(max(float(m.predict([kernels])[0]), 1e-6)) for m in self.members]
        return float(np.std(logs))

    def predict_kernels(self, kernels: Sequence[Kernel], runtime_version: Optional[str] = None,
                        profile: Optional[str] = None) -> Prediction:
        """Predict a model given as its kernels (see :func:`edgekit.tflite.kernels.detect_kernels`)."""
        if not kernels:
            raise ConfigError("the model has no kernels to predict", hint="pass a converted .tflite model")
        total = max(float(self.regressor.predict([kernels])[0]), 1e-6)
        costs, overhead = self.regressor.breakdown(kernels)
        lo, hi = self.calibration.interval(total, model_dtype(kernels))
        rows = tuple({"index": k.index, "type": k.type, "ops": list(k.ops), "dtype": k.dtype,
                      "macs": k.macs, "predicted_ms": float(c)} for k, c in zip(kernels, costs))
        warnings = []
        if runtime_version and self.runtime_version and runtime_version != self.runtime_version:
            warnings.append(f"fitted on runtime {self.runtime_version}, the device now has {runtime_version}: "
                            "the prediction may be stale; sample and fit again")
        if profile and self.profile and profile != self.profile:
            warnings.append(f"fitted for profile '{self.profile}', asked for '{profile}': the prediction may be stale")
        return Prediction(total, (lo, hi), self.calibration.level, self.approach, self.device, rows,
                          float(overhead), tuple(warnings))

    def predict(self, model: str | Path, runtime_version: Optional[str] = None,
                profile: Optional[str] = None) -> Prediction:
        """Predict the latency of a ``.tflite`` file.

        Raises:
            ConfigError: the file is missing or not a model.
        """
        return self.predict_kernels(detect_kernels(model), runtime_version, profile)

    def metadata(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "approach": self.approach,
                "device": self.device, "profile": self.profile, "runtime_version": self.runtime_version,
                "training_ids": list(self.training_ids), "training_sha256": list(self.training_sha256),
                "calibration": self.calibration.to_dict(), "fit_seconds": self.fit_seconds,
                "created_at": self.created_at}

    def save(self, path: str | Path) -> Path:
        """Write the predictor (pickle) atomically; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump({"metadata": self.metadata(), "predictor": self}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        return path


def load(path: str | Path) -> LatencyPredictor:
    """Read a predictor written by :meth:`LatencyPredictor.save`.

    Raises:
        ConfigError: the file is missing or is not an edgekit latency predictor.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"predictor file '{path}' does not exist", hint="fit one first")
    try:
        with path.open("rb") as fh:
            doc = pickle.load(fh)
    except Exception as exc:
        raise ConfigError(f"'{path}' is not a readable predictor file ({type(exc).__name__}: {exc})",
                          hint="fit the predictor again") from exc
    meta = doc.get("metadata", {}) if isinstance(doc, dict) else {}
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"'{path}' is not an edgekit latency predictor of format version {FORMAT_VERSION}",
                          hint="fit the predictor again with this edgekit")
    return doc["predictor"]


def fit(samples: Sequence[Sample], approach: str = DEFAULT_APPROACH, level: float = 0.9, device: str = "",
        profile: str = "", runtime_version: str = "", calibration_folds: int = 5, seed: int = 0,
        progress: Optional[Callable[[str, int, int], None]] = None) -> LatencyPredictor:
    """Fit a predictor and calibrate its intervals on architecture-held-out predictions.

    Args:
        samples: measured models of one device; variants of one architecture share its id.
        approach: one of :data:`edgekit.predict.regressors.APPROACHES`.
        level: nominal coverage of the intervals.
        device, profile, runtime_version: what the predictor is valid for (runtime version
            defaults to the samples' when they agree).
        calibration_folds: folds by architecture for the conformal scores.
        seed: seeds the fold split and the tree models.
        progress: called as ``progress("fit", done, total)``.

    Raises:
        ConfigError: an unknown approach, a level outside (0, 1), or too few architectures.
    """
    if approach not in APPROACHES:
        raise ConfigError(f"predictor approach {approach!r} is unknown", hint=f"use one of {', '.join(APPROACHES)}")
    if not 0 < level < 1:
        raise ConfigError(f"interval level {level!r} is not in (0, 1)", hint="use e.g. 0.9")
    t0 = time.perf_counter()
    models = [s.kernels for s in samples]
    y = np.array([s.latency_ms for s in samples])
    folds = group_folds([s.arch_id for s in samples], calibration_folds, seed)
    oof = np.zeros(len(samples))
    total = len(folds) + 1
    members = []
    for i, test in enumerate(folds):
        train = np.setdiff1d(np.arange(len(samples)), test)
        reg = make_regressor(approach, seed).fit([models[j] for j in train], y[train])
        oof[test] = reg.predict([models[j] for j in test])
        members.append(reg)
        if progress:
            progress("fit", i + 1, total)
    calibration = Calibration.from_scores(log_scores(y, oof), [model_dtype(m) for m in models], level)
    regressor = make_regressor(approach, seed).fit(models, y)
    if progress:
        progress("fit", total, total)
    versions = {s.runtime_version for s in samples if s.runtime_version}
    if not runtime_version and len(versions) == 1:
        runtime_version = versions.pop()
    seconds = time.perf_counter() - t0
    log.info("fitted %s on %d models in %.1f s (interval half-width %.3f in log space)",
             approach, len(samples), seconds, calibration.q)
    return LatencyPredictor(approach, regressor, calibration, device, profile, runtime_version,
                            tuple(s.id for s in samples), tuple(s.sha256 for s in samples), seconds,
                            members=tuple(members))


def suggest(predictor: LatencyPredictor, candidates: Sequence[tuple[str, Sequence[Kernel]]],
            n: int) -> list[tuple[str, float]]:
    """The ``n`` candidates (id, kernels) whose predictions are least certain — the ones to
    measure next (active sampling) — as (id, uncertainty), most uncertain first.

    Raises:
        ConfigError: ``n`` is not a positive whole number.
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"number of suggestions {n!r} is not a positive whole number", hint="pass e.g. 10")
    scored = [(cid, predictor.uncertainty(ks)) for cid, ks in candidates]
    return sorted(scored, key=lambda t: -t[1])[:n]
