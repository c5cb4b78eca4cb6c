"""Describe a ``.tflite`` file as an :class:`~edgekit.artifact.Artifact`, straight from its
flatbuffer (no TensorFlow): I/O specs, operators with versions, weight dtypes, and — for
integer variants — which operators were left in floating point.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Optional

from ..artifact import Artifact
from .model_file import ModelFile, read_model

_FLOAT_TYPES = frozenset({"float32", "float16", "float64", "complex64", "complex128"})
_QUANT_BOUNDARY = frozenset({"QUANTIZE", "DEQUANTIZE"})


def describe_tflite(path: str | Path, variant: Optional[str] = None, *, source: str = "",
                    source_sha256: str = "", converter: str = "", tensorflow_version: str = "",
                    conversion_seconds: float = 0.0, extra: Optional[dict[str, Any]] = None) -> Artifact:
    """Read ``path`` and build its Artifact.

    Args:
        path: the ``.tflite`` file.
        variant: the variant name; guessed from the file's tensors when None.
        source, source_sha256, converter, tensorflow_version, conversion_seconds: provenance.
        extra: merged into ``Artifact.extra`` (which also gets ``weight_dtypes``).

    Raises:
        ConfigError: the file is missing, foreign, truncated or corrupt.
    """
    mf = read_model(path)
    info = {"weight_dtypes": weight_dtypes(mf), **(extra or {})}
    return Artifact(
        path=Path(path), sha256=mf.sha256, size_bytes=mf.size_bytes,
        variant=variant or guess_variant(mf),
        inputs=tuple(t.spec() for t in mf.inputs), outputs=tuple(t.spec() for t in mf.outputs),
        ops=mf.op_histogram, source=source, source_sha256=source_sha256, converter=converter,
        tensorflow_version=tensorflow_version, min_runtime_version=mf.min_runtime_version,
        conversion_seconds=conversion_seconds, extra=info,
    )


def weight_dtypes(mf: ModelFile) -> dict[str, int]:
    """Number of constant elements (weights, biases) per dtype in the main subgraph."""
    seen: dict[int, tuple[str, int]] = {}
    for op in mf.operators:
        for t in op.inputs:
            if t.is_constant and t.index not in seen:
                seen[t.index] = (t.dtype, math.prod(t.shape) if t.shape else 1)
    counts: Counter[str] = Counter()
    for dtype, n in seen.values():
        counts[dtype] += n
    return dict(sorted(counts.items()))


def float_operators(mf: ModelFile) -> list[str]:
    """Operators of an integer model that compute in floating point.

    QUANTIZE on a model input and DEQUANTIZE on a model output (float I/O) are allowed;
    any other operator that reads or writes a float activation is listed, first the
    computing operators, then stray QUANTIZE/DEQUANTIZE pairs.
    """
    graph_inputs = {t.index for t in mf.inputs}
    graph_outputs = {t.index for t in mf.outputs}
    compute: list[str] = []
    boundary: list[str] = []
    for op in mf.operators:
        acts = [t for t in (*op.inputs, *op.outputs) if not t.is_constant]
        if not any(t.dtype in _FLOAT_TYPES for t in acts):
            continue
        if op.name == "QUANTIZE" and all(t.index in graph_inputs for t in op.inputs if not t.is_constant):
            continue
        if op.name == "DEQUANTIZE" and all(t.index in graph_outputs for t in op.outputs):
            continue
        target = boundary if op.name in _QUANT_BOUNDARY else compute
        if op.name not in target:
            target.append(op.name)
    return compute or boundary


def guess_variant(mf: ModelFile) -> str:
    """Which converter variant most likely produced ``mf`` (for ``.tflite`` inputs)."""
    if mf.is_edgetpu:
        return "edgetpu"
    act_types: set[str] = set()
    for op in mf.operators:
        if op.name in _QUANT_BOUNDARY:
            continue
        act_types.update(t.dtype for t in (*op.inputs, *op.outputs) if not t.is_constant)
    weights = weight_dtypes(mf)
    if "int16" in act_types and not act_types & _FLOAT_TYPES:
        return "int16x8"
    if act_types & {"int8", "uint8"} and not act_types & {"float32"}:
        return "int8"
    if weights.get("int8", 0) and "float32" in act_types:
        return "dynamic"
    if weights.get("float16", 0):
        return "fp16"
    return "fp32"


__all__ = ["describe_tflite", "weight_dtypes", "float_operators", "guess_variant"]
