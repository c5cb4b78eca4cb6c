"""How closely a variant follows the fp32 reference, measured with the LiteRT interpreter
on calibration samples the converter never saw (the held-back slice).

* max-abs / mean-abs error: over every output element (all outputs, flattened);
* cosine: per-sample cosine similarity of the flattened outputs, averaged over samples
  (two all-zero vectors count as 1.0, one all-zero vector as 0.0);
* top-1 agreement: fraction of samples whose arg-max class matches the reference — only
  when the first output is a class vector (rank 2, at least 2 classes), else None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..artifact import Fidelity
from ..evaluate.interpreter import LiteRTModel


def reference_outputs(fp32_path: str | Path, samples: np.ndarray) -> list[np.ndarray]:
    """The fp32 model's outputs on ``samples`` (every output, float32)."""
    return LiteRTModel(fp32_path).predict_outputs(samples)


def measure_fidelity(path: str | Path, samples: np.ndarray, reference: Sequence[np.ndarray]) -> Fidelity:
    """Run ``path`` on ``samples`` and compare with the fp32 ``reference`` outputs."""
    return compare_outputs(LiteRTModel(path).predict_outputs(samples), reference)


def compare_outputs(outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> Fidelity:
    """Fidelity of ``outputs`` against ``reference`` (lists of arrays with a batch axis)."""
    if len(outputs) != len(reference):
        raise ValueError(f"{len(outputs)} outputs vs {len(reference)} reference outputs")
    n = len(reference[0]) if reference else 0
    if n == 0:
        return Fidelity(samples=0, max_abs_error=0.0, mean_abs_error=0.0, cosine=1.0, top1_agreement=None)
    got = np.concatenate([np.asarray(o, np.float64).reshape(n, -1) for o in outputs], axis=1)
    ref = np.concatenate([np.asarray(r, np.float64).reshape(n, -1) for r in reference], axis=1)
    diff = np.abs(got - ref)
    dot = (got * ref).sum(axis=1)
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1)
    both_zero = (np.linalg.norm(got, axis=1) == 0) & (np.linalg.norm(ref, axis=1) == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), np.where(both_zero, 1.0, 0.0))
    first, first_ref = np.asarray(outputs[0]), np.asarray(reference[0])
    top1 = None
    if first_ref.ndim == 2 and first_ref.shape[1] >= 2:
        top1 = float(np.mean(first.argmax(axis=1) == first_ref.argmax(axis=1)))
    return Fidelity(
        samples=int(n), max_abs_error=float(diff.max()), mean_abs_error=float(diff.mean()),
        cosine=float(np.clip(cos, -1.0, 1.0).mean()), top1_agreement=top1,
    )


__all__ = ["reference_outputs", "measure_fidelity", "compare_outputs"]
