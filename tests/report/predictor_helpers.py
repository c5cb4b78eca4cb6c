"""A real latency predictor for tests: a few small CNNs converted by edgekit (fp32 and int8),
timed on this host with a warm-up + timed LiteRT loop, fitted with the default approach.

Small on purpose (four architectures, two variants each: eight
held-out scores, the fewest that bound an 80 % conformal interval): the tests check how predictions
are shown and labelled, not how accurate they are (benchmarks/predict_host.py measures that).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.predict.dataset import sample_from_file
from edgekit.predict.generate import ArchSpec
from edgekit.predict.predictor import LatencyPredictor, fit

#: four CNNs on 8×8×1 inputs (the digits' shape of the pipeline tests), of different widths
SPECS = tuple(ArchSpec("cnn", (8, 8, 1), (
    {"op": "conv", "filters": f, "kernel": 3, "stride": 1},
    {"op": "maxpool"},
    {"op": "conv", "filters": 2 * f, "kernel": 3, "stride": 1},
    {"op": "gap"},
), num_classes=10, rounding="raw") for f in (4, 10, 16, 28))


def fit_host_predictor(folder: Path, device: str = "host") -> LatencyPredictor:
    """Convert, time and fit; ``folder`` receives the models."""
    from edgekit.convert.api import convert
    from edgekit.predict.generate import build_keras

    from .conftest import time_model

    x = np.random.default_rng(0).normal(size=(32, 8, 8, 1)).astype("float32")
    samples = []
    for spec in SPECS:
        out = folder / spec.id
        convert(build_keras(spec), out, variants="fp32,int8", calibration=x, samples=16, use_cache=False,
                name=spec.id)
        for variant in ("fp32", "int8"):
            path = out / f"{spec.id}_{variant}.tflite"
            us, _, _ = time_model(path, warmup=5, runs=30)
            samples.append(sample_from_file(path, float(np.median(us)) / 1000.0, spec.id, variant))
    return fit(samples, level=0.8, device=device, profile=device, calibration_folds=4)
