"""Evaluate predictors held out by architecture.

Folds are made of whole architectures (every variant of one architecture in the same
fold, :func:`edgekit.predict.dataset.group_folds`): a predictor never sees the fp32 build
of a network whose int8 build it is scored on. Each outer fold's predictor is fitted with
:func:`edgekit.predict.predictor.fit` on the other folds — its conformal calibration
included — so the interval coverage is measured on architectures neither the regressor nor
the calibration saw.

Figures: share of predictions within ±5 % and ±10 % of the measurement, RMSPE (root mean
squared relative error), MAPE, interval coverage and mean interval width (relative).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import ConfigError
from .dataset import Sample, group_folds
from .features import model_dtype
from .predictor import fit
from .regressors import APPROACHES


@dataclass
class EvalResult:
    """Held-out figures of one approach."""

    approach: str
    n: int
    architectures: int
    folds: int
    level: float
    within_5: float
    within_10: float
    rmspe: float
    mape: float
    coverage: float
    mean_interval_width: float       # mean (hi - lo) / predicted
    fit_seconds: float               # mean time of one fit (calibration included)
    by_dtype: dict[str, dict[str, float]] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metrics(measured: np.ndarray, predicted: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, float]:
    """Within ±5 %/±10 %, RMSPE, MAPE and coverage of predictions against measurements."""
    m, p = np.asarray(measured, float), np.asarray(predicted, float)
    e = p / m - 1
    return {"n": int(m.size), "within_5": float(np.mean(np.abs(e) <= 0.05)),
            "within_10": float(np.mean(np.abs(e) <= 0.10)), "rmspe": float(np.sqrt(np.mean(e ** 2))),
            "mape": float(np.mean(np.abs(e))),
            "coverage": float(np.mean((m >= np.asarray(lo)) & (m <= np.asarray(hi))))}


def evaluate(samples: Sequence[Sample], approach: str, folds: int = 5, level: float = 0.9, seed: int = 0,
             progress: Optional[Callable[[str, int, int], None]] = None) -> EvalResult:
    """Cross-validate one approach held out by architecture.

    Raises:
        ConfigError: too few architectures for the folds (and inner calibration folds).
    """
    groups = [s.arch_id for s in samples]
    outer = group_folds(groups, folds, seed)
    inner = min(5, folds)
    smallest = min(len({groups[j] for j in range(len(samples))} - {groups[j] for j in test}) for test in outer)
    if smallest < inner:
        raise ConfigError(f"{len(set(groups))} architectures are too few to evaluate with {folds} folds: a training "
                          f"part would hold {smallest}, and its interval calibration needs {inner}",
                          hint="measure more architectures (edgekit predict sample --n …) or pass fewer --folds")
    pred = np.zeros(len(samples))
    lo = np.zeros(len(samples))
    hi = np.zeros(len(samples))
    fit_times = []
    for i, test in enumerate(outer):
        train = np.setdiff1d(np.arange(len(samples)), test)
        t0 = time.perf_counter()
        predictor = fit([samples[j] for j in train], approach, level=level, seed=seed + 1 + i,
                        calibration_folds=inner)
        fit_times.append(time.perf_counter() - t0)
        for j in test:
            r = predictor.predict_kernels(samples[j].kernels)
            pred[j], (lo[j], hi[j]) = r.predicted_ms, r.interval_ms
        if progress:
            progress(f"evaluate {approach}", i + 1, len(outer))
    y = np.array([s.latency_ms for s in samples])
    dtypes = [model_dtype(s.kernels) for s in samples]
    overall = metrics(y, pred, lo, hi)
    by = {}
    for d in sorted(set(dtypes)):
        sel = np.array([x == d for x in dtypes])
        by[d] = metrics(y[sel], pred[sel], lo[sel], hi[sel])
    rows = [{"id": s.id, "dtype": d, "measured_ms": float(m), "predicted_ms": float(p),
             "interval_ms": [float(a), float(b)]} for s, d, m, p, a, b in zip(samples, dtypes, y, pred, lo, hi)]
    return EvalResult(approach, overall["n"], len(set(groups)), folds, level, overall["within_5"],
                      overall["within_10"], overall["rmspe"], overall["mape"], overall["coverage"],
                      float(np.mean((hi - lo) / pred)), float(np.mean(fit_times)), by, rows)


def compare(samples: Sequence[Sample], approaches: Sequence[str] = APPROACHES, folds: int = 5, level: float = 0.9,
            seed: int = 0, progress: Optional[Callable[[str, int, int], None]] = None) -> list[EvalResult]:
    """:func:`evaluate` for each approach on the same folds, best ±10 % share first."""
    out = [evaluate(samples, a, folds, level, seed, progress) for a in approaches]
    return sorted(out, key=lambda r: (-r.within_10, r.rmspe))
