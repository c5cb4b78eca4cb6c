"""A small MobileNet-style model (explicit padding, depthwise, residual ADD) converted by
edgekit to fp32, fp16 and int8 (float I/O), once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.predict.generate import ArchSpec

#: 16×16×3 → conv 3×3/2 (8) → IR expand 2, 8 ch, stride 1 (residual) → IR with PAD, 12 ch, stride 2
SMALL_SPEC = ArchSpec("mbv2", (16, 16, 3), (
    {"op": "conv", "filters": 8, "kernel": 3, "stride": 2},
    {"op": "ir", "expand": 2, "filters": 8, "kernel": 3, "stride": 1, "pad": False},
    {"op": "ir", "expand": 2, "filters": 12, "kernel": 3, "stride": 2, "pad": True},
    {"op": "gap"},
), num_classes=5, rounding="raw")


@pytest.fixture(scope="session")
def small_variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from edgekit.convert.api import convert
    from edgekit.predict.generate import build_keras

    out = tmp_path_factory.mktemp("predict_models")
    x = np.random.default_rng(0).normal(size=(40, 16, 16, 3)).astype("float32")
    convert(build_keras(SMALL_SPEC), out, variants="fp32,fp16,int8", calibration=x, samples=24,
            use_cache=False, name="small")
    paths = {v: out / f"small_{v}.tflite" for v in ("fp32", "fp16", "int8")}
    assert all(p.exists() for p in paths.values())
    return paths
