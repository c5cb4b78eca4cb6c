"""edgekit: take a trained model to phones, Coral and Jetson boards, and learn — with
measurements — which variant to ship.

The public API is imported lazily so that ``import edgekit`` stays fast (TensorFlow is
loaded only by the functions that convert or train)::

    import edgekit
    manifest = edgekit.convert("model.keras", "out/", variants=["fp32", "int8"], calibration="calib.npz")
    edgekit.evaluate(manifest, "test.npz")
    edgekit.deploy(manifest.get("int8").path, device="host")
    edgekit.report(out="report/")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    # converter layer
    "convert": "edgekit.convert.api",
    "evaluate": "edgekit.evaluate.api",
    "Manifest": "edgekit.artifact",
    "Artifact": "edgekit.artifact",
    "TensorSpec": "edgekit.artifact",
    "read_model": "edgekit.tflite",
    # devices
    "deploy": "edgekit.devices.deploy",
    "check_device": "edgekit.devices.check",
    "DeviceProfile": "edgekit.devices.profile",
    "get_profile": "edgekit.devices.profile",
    "load_profiles": "edgekit.devices.profile",
    "Measurement": "edgekit.measurement",
    "RunSettings": "edgekit.measurement",
    "LatencyStats": "edgekit.measurement",
    "QualityRecord": "edgekit.measurement",
    # farm
    "Store": "edgekit.store",
    "open_store": "edgekit.store",
    "NO_STORE": "edgekit.store",
    "Lab": "edgekit.farm.lab",
    # reports
    "report": "edgekit.report.api",
    "pareto_front": "edgekit.report.pareto",
    # pipeline
    "run_pipeline": "edgekit.api",
    # EdgeTPU
    "edgetpu_check": "edgekit.edgetpu.preflight",
    "edgetpu_compile": "edgekit.edgetpu.compiler",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'edgekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
