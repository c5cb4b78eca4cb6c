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
from ..tflite.interpreter import Batch, LiteRTModel


def reference_outputs(fp32_path: str | Path, samples: Batch, names: Sequence[str] = ()) -> list[np.ndarray]:
    """The fp32 model's outputs on ``samples`` (every output, float32).

    ``samples`` is an array for a single-input model, or one array per input named by
    ``names`` (the model's input names, in the calibration set's order).
    """
    model = LiteRTModel(fp32_path)
    return model.predict_outputs(in_model_order(model, samples, names))


def measure_fidelity(path: str | Path, samples: Batch, reference: Sequence[np.ndarray],
                     names: Sequence[str] = ()) -> Fidelity:
    """Run ``path`` on ``samples`` and compare with the fp32 ``reference`` outputs."""
    model = LiteRTModel(path)
    return compare_outputs(model.predict_outputs(in_model_order(model, samples, names)), reference)


def in_model_order(model: LiteRTModel, samples: Batch, names: Sequence[str]) -> Batch:
    """Per-input arrays (named ``names``) reordered as the ``.tflite`` file's inputs.

    The converter names an input tensor ``serving_default_<name>:0`` (or ``<name>``) and
    orders the inputs by name, not as the Keras model does.
    """
    if not names:
        return samples
    by_name = dict(zip(names, samples))
    ordered = []
    for detail in model.inputs:
        tensor = str(detail["name"])
        match = [n for n in names if tensor in (n, f"{n}:0", f"serving_default_{n}:0")]
        if len(match) != 1:
            match = [n for n in names if tensor.split(":")[0].endswith(f"_{n}")]
        if len(match) != 1:
            raise ValueError(f"cannot tell which of the inputs {', '.join(names)} feeds the tensor '{tensor}'")
        ordered.append(by_name[match[0]])
    return ordered


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


__all__ = ["reference_outputs", "measure_fidelity", "compare_outputs", "in_model_order"]
