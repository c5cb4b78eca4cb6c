"""Training rows of a latency predictor: one measured model each, grouped by architecture.

A :class:`Sample` is a ``.tflite`` file, its kernels, the architecture it comes from (all
variants of one architecture share it, so evaluation can hold whole architectures out)
and its measured median latency. :func:`load_samples` reads the folder layout written by
``benchmarks/predict_host.py`` (``archs/<id>/spec.json``, ``<id>_<variant>.tflite`` and the
runner's ``<variant>.json``); the results store will be the other source.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..tflite.kernels import Kernel, detect_kernels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One measured model."""

    arch_id: str                 # the architecture (the group for held-out evaluation)
    variant: str                 # fp32, int8, …
    path: Path
    sha256: str
    kernels: tuple[Kernel, ...]
    latency_ms: float            # median warm latency
    runtime: str = ""
    runtime_version: str = ""

    @property
    def id(self) -> str:
        return f"{self.arch_id}/{self.variant}"


def sample_from_file(path: str | Path, latency_ms: float, arch_id: str, variant: str,
                     runtime: str = "", runtime_version: str = "") -> Sample:
    """A sample of a ``.tflite`` file and its measured latency.

    Raises:
        ConfigError: the latency is not a positive number, or the file is not a model.
    """
    if not (isinstance(latency_ms, (int, float)) and np.isfinite(latency_ms) and latency_ms > 0):
        raise ConfigError(f"latency {latency_ms!r} ms of '{path}' is not a positive number",
                          hint="pass the measured median latency in milliseconds")
    from ..tflite.model_file import read_model

    mf = read_model(path)
    return Sample(arch_id, variant, Path(path), mf.sha256, tuple(detect_kernels(mf)), float(latency_ms),
                  runtime, runtime_version)


def load_samples(folder: str | Path, quantile: float = 0.5) -> list[Sample]:
    """Every measured model under ``folder/archs`` (failed or missing measurements skipped).

    ``quantile`` picks the latency of a model from its warm samples: 0.5 is the median (the
    project's statistic); a low one (e.g. 0.1) resists interference on a shared machine,
    which only ever adds time.

    Raises:
        ConfigError: the folder has no ``archs`` sub-folder, or the quantile is not in (0, 1).
    """
    if not 0 < quantile < 1:
        raise ConfigError(f"latency quantile {quantile!r} is not in (0, 1)", hint="use 0.5 (the median)")
    root = Path(folder) / "archs"
    if not root.is_dir():
        raise ConfigError(f"'{folder}' holds no sampled architectures (no 'archs' folder)",
                          hint="sample some first: python benchmarks/predict_host.py --n 40")
    out: list[Sample] = []
    for arch in sorted(p for p in root.iterdir() if p.is_dir()):
        for result in sorted(arch.glob("*.json")):
            if result.name in ("spec.json", "manifest.json") or "." in result.stem:
                continue  # repeat measurements are <variant>.rN.json
            variant = result.stem
            model = arch / f"{arch.name}_{variant}.tflite"
            try:
                doc = json.loads(result.read_text())
            except (OSError, ValueError) as exc:
                log.warning("skipping %s: %s", result, exc)
                continue
            if doc.get("status") != "ok" or not doc.get("samples_us") or not model.exists():
                continue
            ms = float(np.quantile(doc["samples_us"], quantile)) / 1000.0
            out.append(sample_from_file(model, ms, arch.name, variant, doc.get("runtime", ""),
                                        doc.get("runtime_version", "")))
    return out


def group_folds(groups: Sequence[str], k: int, seed: int = 0) -> list[np.ndarray]:
    """Test indices of ``k`` folds in which every group (architecture) is whole.

    Groups are shuffled with ``seed`` and dealt round-robin, so fold sizes differ by at most
    one group. Raises ConfigError when there are fewer groups than folds.
    """
    names = sorted(set(groups))
    if k < 2 or len(names) < k:
        raise ConfigError(f"{len(names)} architectures cannot be split into {k} folds",
                          hint="measure more architectures or use fewer folds (at least 2)")
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    fold_of = {g: i % k for i, g in enumerate(order)}
    arr = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(arr == f) for f in range(k)]
