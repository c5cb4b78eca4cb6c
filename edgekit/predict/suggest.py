"""Active sampling: of the architectures a device has not been measured on, the ones whose
predictions are least certain.

Uncertainty is the disagreement of the predictor's fold regressors (the standard deviation
of their log predictions, :meth:`LatencyPredictor.uncertainty`): it is large where the
training set is thin — kernel shapes, alignments or depths the device has not run yet.
Candidates are converted (cached in the sample folder, so measuring them later costs no
second conversion).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from ..errors import ConfigError
from ..progress import ProgressCallback, report
from ..store import Store
from ..tflite.kernels import detect_kernels
from .generate import FAMILIES, generate
from .predictor import LatencyPredictor
from .sampling import DEFAULT_DIR, DEFAULT_VARIANTS, Converted, convert_spec


def measured_architectures(store: Store, device: str) -> set[str]:
    """Architecture ids with a successful measurement on ``device``."""
    shas = {m.artifact_sha256 for m in store.measurements(device=device, status="ok")}
    out = set()
    for sha in shas:
        a = store.artifact(sha)
        model = a.extra.get("model") if a is not None and isinstance(a.extra.get("model"), dict) else {}
        if model.get("arch_id"):
            out.add(str(model["arch_id"]))
    return out


def candidate_pool(store: Store, device: str, pool: int, folder: str | Path | None = None, seed: int = 0,
                   variants: Sequence[str] = DEFAULT_VARIANTS, families: Sequence[str] = FAMILIES,
                   progress: Optional[ProgressCallback] = None) -> list[Converted]:
    """The first ``pool`` architectures of the seeded sequence not yet measured on ``device``,
    converted under ``folder``.

    Raises:
        ConfigError: ``pool`` is not a positive whole number.
    """
    if not isinstance(pool, int) or pool < 1:
        raise ConfigError(f"candidate pool {pool!r} is not a positive whole number", hint="pass e.g. --pool 30")
    done = measured_architectures(store, device)
    specs = [s for s in generate(pool + len(done), seed=seed, families=tuple(families)) if s.id not in done][:pool]
    root = Path(folder) if folder is not None else DEFAULT_DIR
    out = []
    for i, spec in enumerate(specs):
        report(progress, "convert", spec.id, i, len(specs))
        out.append(convert_spec(spec, root, variants))
    report(progress, "convert", "", len(specs), len(specs))
    return out


def rank(predictor: LatencyPredictor, candidates: Sequence[Converted], n: int) -> list[dict[str, Any]]:
    """The ``n`` candidate models (architecture and variant) whose predictions are least certain,
    most uncertain first, with their predictions.

    Raises:
        ConfigError: ``n`` is not a positive whole number.
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"number of suggestions {n!r} is not a positive whole number", hint="pass e.g. --n 10")
    rows = []
    for c in candidates:
        for a in c.artifacts:
            kernels = detect_kernels(a.path)
            p = predictor.predict_kernels(kernels)
            rows.append({"arch_id": c.spec.id, "family": c.spec.family, "variant": a.variant, "path": str(a.path),
                         "predicted_ms": p.predicted_ms, "interval_ms": list(p.interval_ms),
                         "uncertainty": predictor.uncertainty(kernels)})
    return sorted(rows, key=lambda r: -r["uncertainty"])[:n]


def suggest_architectures(predictor: LatencyPredictor, store: Store, device: str, n: int, pool: int,
                          folder: str | Path | None = None, seed: int = 0,
                          progress: Optional[ProgressCallback] = None) -> list[dict[str, Any]]:
    """:func:`rank` over :func:`candidate_pool`."""
    return rank(predictor, candidate_pool(store, device, pool, folder, seed, progress=progress), n)
