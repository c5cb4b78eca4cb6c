"""The latency regressors compared by :mod:`edgekit.predict.evaluate` (scikit-learn/scipy only).

Only whole-model latencies are measured, never a kernel's, so every approach learns from
model rows:

* ``kernel-nnls`` — per-kernel linear models summed into the model latency. A kernel's cost
  is ``w · basis(kernel)`` with one non-negative weight per ``type|dtype|term`` (a call, MACs,
  tile-padded MACs, unaligned MACs, bytes; :mod:`edgekit.predict.features`) plus one
  per-invoke overhead. Since the model's basis is the sum of its kernels', the weights come
  from non-negative least squares on model rows, each row divided by its latency so the fit
  minimises *relative* error, re-weighted by Huber's rule (robust to disturbed
  measurements). Non-negativity keeps every kernel's cost ≥ 0 and the fit stable with
  collinear terms.
* ``kernel-gbr`` — nn-Meter's structure: one gradient-boosted regressor per kernel type,
  summed. Per-kernel targets are made by back-fitting: start from the ``kernel-nnls`` kernel
  costs, scale each model's kernel costs so they add up to its measured latency (the
  residual is shared in proportion to cost), fit each type's regressor to the log of its
  kernels' shares, predict, and repeat (2 rounds).
* ``model-gbr`` — one gradient-boosted regressor on a model's aggregate features (MAC sums
  per type, bytes, alignment counts), predicting log latency.
* ``nnls+gbr`` — ``kernel-nnls``, then a model-level boosted regressor on its log residual
  (the additive structure extrapolates; the trees correct what it cannot express, such as
  cache effects). Its per-kernel breakdown is the NNLS one, scaled to the total.

Every regressor maps lists of kernels to milliseconds and gives a per-kernel breakdown.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..tflite.kernels import Kernel
from .features import basis_columns, basis_matrix, kernel_vector, model_vector

APPROACHES: tuple[str, ...] = ("kernel-nnls", "kernel-gbr", "model-gbr", "nnls+gbr")
Models = Sequence[Sequence[Kernel]]


class KernelNnls:
    """Per-kernel linear costs, fitted by non-negative least squares on model rows.

    ``robust`` re-weights rows by Huber's rule on their relative residuals (iteratively
    re-weighted NNLS), so a few disturbed measurements do not pull every kernel's cost.
    """

    name = "kernel-nnls"

    def __init__(self, robust: bool = True, rounds: int = 4):
        self.robust = robust
        self.rounds = rounds

    def fit(self, models: Models, y_ms: np.ndarray) -> "KernelNnls":
        from scipy.optimize import nnls

        cols = basis_columns()
        x = np.stack([basis_matrix(ks, cols).sum(axis=0) for ks in models])
        used = np.flatnonzero(np.abs(x).sum(axis=0) > 0)
        self.columns = [cols[i] for i in used]
        a = np.hstack([np.ones((len(models), 1)), x[:, used]])  # column 0: per-invoke overhead
        a = a / y_ms[:, None]
        scale = np.linalg.norm(a, axis=0)
        scale[scale == 0] = 1.0
        a = a / scale
        weights = np.ones(len(models))
        for _ in range(self.rounds if self.robust else 1):
            w, _ = nnls(a * weights[:, None], weights, maxiter=50 * a.shape[1])
            r = a @ w - 1.0                                # relative residuals
            mad = np.median(np.abs(r - np.median(r))) * 1.4826
            c = 1.345 * max(mad, 1e-3)
            weights = np.sqrt(np.minimum(1.0, c / np.maximum(np.abs(r), 1e-12)))
        w = w / scale
        self.overhead_ms = float(w[0])
        self.weights = w[1:]
        return self

    def kernel_costs(self, kernels: Sequence[Kernel]) -> np.ndarray:
        if not kernels:
            return np.zeros(0)
        return basis_matrix(kernels, self.columns) @ self.weights

    def predict(self, models: Models) -> np.ndarray:
        return np.array([self.overhead_ms + self.kernel_costs(ks).sum() for ks in models])

    def breakdown(self, kernels: Sequence[Kernel]) -> tuple[np.ndarray, float]:
        return self.kernel_costs(kernels), self.overhead_ms


def _boost(seed: int, n: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=300 if n > 60 else 150, max_depth=3, learning_rate=0.05,
                                     subsample=0.8, min_samples_leaf=3, random_state=seed)


class KernelBoost:
    """nn-Meter-style per-kernel-type boosted regressors, back-fitted to model latencies."""

    name = "kernel-gbr"
    rounds = 2
    min_rows = 30      # kernel types with fewer training kernels keep their NNLS cost

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, models: Models, y_ms: np.ndarray) -> "KernelBoost":
        from sklearn.ensemble import GradientBoostingRegressor  # single-threaded: measurements run beside

        self.base = KernelNnls().fit(models, y_ms)
        self.overhead_ms = self.base.overhead_ms
        costs = [np.maximum(self.base.kernel_costs(ks), 1e-6) for ks in models]
        feats = [np.array([kernel_vector(k) for k in ks]) if ks else np.zeros((0, 21)) for ks in models]
        types = sorted({k.type for ks in models for k in ks})
        self.trees: dict[str, Any] = {}
        for _ in range(self.rounds):
            targets = [c * max(y - self.overhead_ms, 1e-3) / c.sum() for c, y in zip(costs, y_ms)]
            self.trees = {}
            for t in types:
                rows = [(f[i], tg[i]) for ks, f, tg in zip(models, feats, targets)
                        for i, k in enumerate(ks) if k.type == t]
                if len(rows) < self.min_rows:
                    continue
                xf = np.stack([r[0] for r in rows])
                yt = np.log(np.array([r[1] for r in rows]))
                self.trees[t] = GradientBoostingRegressor(
                    n_estimators=80, max_depth=3, learning_rate=0.15, subsample=0.8, min_samples_leaf=5,
                    random_state=self.seed).fit(xf, yt)
            costs = [self._costs(ks, f) for ks, f in zip(models, feats)]
        return self

    def _costs(self, kernels: Sequence[Kernel], feats: np.ndarray) -> np.ndarray:
        out = np.maximum(self.base.kernel_costs(kernels), 1e-6)
        for t, tree in self.trees.items():
            idx = [i for i, k in enumerate(kernels) if k.type == t]
            if idx:
                out[idx] = np.exp(tree.predict(feats[idx]))
        return out

    def breakdown(self, kernels: Sequence[Kernel]) -> tuple[np.ndarray, float]:
        if not kernels:
            return np.zeros(0), self.overhead_ms
        return self._costs(kernels, np.array([kernel_vector(k) for k in kernels])), self.overhead_ms

    def predict(self, models: Models) -> np.ndarray:
        return np.array([self.overhead_ms + self.breakdown(ks)[0].sum() for ks in models])


class ModelBoost:
    """A boosted regressor of log latency on model-level aggregate features."""

    name = "model-gbr"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, models: Models, y_ms: np.ndarray) -> "ModelBoost":
        x = np.array([model_vector(ks) for ks in models])
        self.tree = _boost(self.seed, len(models)).fit(x, np.log(y_ms))
        self.base = KernelNnls().fit(models, y_ms)   # only for the per-kernel breakdown
        return self

    def predict(self, models: Models) -> np.ndarray:
        return np.exp(self.tree.predict(np.array([model_vector(ks) for ks in models])))

    def breakdown(self, kernels: Sequence[Kernel]) -> tuple[np.ndarray, float]:
        return _scaled_breakdown(self.base, kernels, float(self.predict([kernels])[0]))


class NnlsThenBoost:
    """``kernel-nnls`` corrected by a model-level boosted regressor of its log residual."""

    name = "nnls+gbr"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _x(self, models: Models, base_ms: np.ndarray) -> np.ndarray:
        return np.column_stack([np.array([model_vector(ks) for ks in models]), np.log(base_ms)])

    def fit(self, models: Models, y_ms: np.ndarray) -> "NnlsThenBoost":
        self.base = KernelNnls().fit(models, y_ms)
        b = np.maximum(self.base.predict(models), 1e-3)
        self.tree = _boost(self.seed, len(models)).fit(self._x(models, b), np.log(y_ms / b))
        return self

    def predict(self, models: Models) -> np.ndarray:
        b = np.maximum(self.base.predict(models), 1e-3)
        return b * np.exp(self.tree.predict(self._x(models, b)))

    def breakdown(self, kernels: Sequence[Kernel]) -> tuple[np.ndarray, float]:
        return _scaled_breakdown(self.base, kernels, float(self.predict([kernels])[0]))


def _scaled_breakdown(base: KernelNnls, kernels: Sequence[Kernel], total: float) -> tuple[np.ndarray, float]:
    costs, overhead = base.breakdown(kernels)
    s = costs.sum() + overhead
    f = total / s if s > 0 else 0.0
    return costs * f, overhead * f


def make_regressor(approach: str, seed: int = 0) -> Any:
    """A fresh regressor for an approach name (see :data:`APPROACHES`).

    Raises:
        ConfigError: the name is not one of :data:`APPROACHES`.
    """
    if approach == "kernel-nnls":
        return KernelNnls()
    if approach == "kernel-gbr":
        return KernelBoost(seed)
    if approach == "model-gbr":
        return ModelBoost(seed)
    if approach == "nnls+gbr":
        return NnlsThenBoost(seed)
    raise ConfigError(f"predictor approach {approach!r} is unknown", hint=f"use one of {', '.join(APPROACHES)}")
