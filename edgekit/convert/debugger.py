"""Per-layer quantization error of the int8 variant (``--debug-quantization``).

Uses TensorFlow's ``tf.lite.experimental.QuantizationDebugger``: it builds a model whose
quantized layers are paired with their float counterparts, runs it on debug samples and
reports, per quantized tensor, the error statistics of the quantized output against the
float one. edgekit writes them as CSV with one row per layer and these columns:

``op_name, tensor_idx, num_elements, stddev, mean_error, max_abs_error, mean_squared_error,
mean_abs_error, scale, zero_point, rmse/scale, tensor_name``

``rmse/scale`` (root-mean-squared error divided by the tensor's quantization step) is the
column to sort by: values well above ~0.3 (the error of rounding alone, 1/sqrt(12)) point
at layers that quantize badly.

Note: TensorFlow's debugger runs its models with TensorFlow's own interpreter; edgekit's
fidelity and evaluation use LiteRT.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path

import numpy as np

from ..errors import ConversionError
from .calibration import CalibrationSet
from .loading import LoadedModel
from ..tflite.quiet import quiet_tensorflow
from .variants import CONVERTER_VARIANTS, VariantOptions, conversion_error

#: at most this many samples are run through the debug model
DEBUG_SAMPLES = 32


def write_debug_csv(loaded: LoadedModel, calibration: CalibrationSet, dest: Path) -> Path:
    """Run the quantization debugger for the int8 variant and write the CSV to ``dest``.

    The debug samples are the held-back calibration samples (or, when none were held back,
    the first calibration samples), at most :data:`DEBUG_SAMPLES`.

    Raises:
        ConversionError: TensorFlow could not build or run the debug model.
    """
    samples = calibration.holdback if calibration.holdback_count else calibration.calibration
    debug_dataset = calibration.dataset(samples, DEBUG_SAMPLES)

    with quiet_tensorflow(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf

        converter = loaded.make_converter()
        CONVERTER_VARIANTS["int8"].configure(converter, tf, VariantOptions(calibration, "float32"))
        try:
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=debug_dataset,
                debug_options=tf.lite.experimental.QuantizationDebugOptions(
                    layer_debug_metrics={"mean_abs_error": lambda diffs: float(np.mean(np.abs(diffs)))}),
            )
            debugger.run()
            buf = io.StringIO()
            debugger.layer_statistics_dump(buf)
        except Exception as exc:
            err = conversion_error("int8", exc)
            raise ConversionError(f"quantization debugger failed: {err.message}", hint=err.hint) from exc
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    columns = list(rows[0].keys()) if rows else ["op_name", "tensor_idx", "tensor_name"]
    if "rmse/scale" not in columns:
        columns.insert(columns.index("tensor_name") if "tensor_name" in columns else len(columns), "rmse/scale")
    for row in rows:
        row["rmse/scale"] = _rmse_over_scale(row)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(dest)
    return dest


def _rmse_over_scale(row: dict[str, str]) -> str:
    try:
        mse, scale = float(row["mean_squared_error"]), float(row["scale"])
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{math.sqrt(max(mse, 0.0)) / scale:.6g}" if scale else ""


__all__ = ["write_debug_csv", "DEBUG_SAMPLES"]
