"""The converter variants: one small class per variant configures a ``TFLiteConverter``.

=========  ==========================================================================
fp32       no optimisation: float32 weights and activations
fp16       float16 weights (``supported_types=[tf.float16]``), float32 compute on CPU
dynamic    dynamic-range: int8 weights, activations quantized on the fly, float I/O
int8       full-integer with a representative dataset, integer-only builtins
           (``TFLITE_BUILTINS_INT8``); I/O float32, or int8/uint8 (``io_dtype``)
int16x8    int16 activations, int8 weights, with a representative dataset
=========  ==========================================================================

TensorFlow's MLIR quantizer silently leaves an operator it cannot quantize in float32
(wrapped in DEQUANTIZE/QUANTIZE) even when only integer builtins are allowed. Such a model
is not integer-only — an EdgeTPU or an integer-only accelerator cannot run it — so
:func:`convert_variant` reads the written file and refuses it, naming the operator.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Optional

from ..errors import ConversionError
from ..tflite import read_model
from .calibration import CalibrationSet
from ..tflite.describe import float_operators
from .loading import LoadedModel
from ..tflite.quiet import quiet_tensorflow

LOG = logging.getLogger(__name__)

IO_DTYPES = ("float32", "int8", "uint8")


@dataclass(frozen=True)
class VariantOptions:
    """What a variant may need besides the converter: calibration data and I/O dtype."""

    calibration: Optional[CalibrationSet] = None
    io_dtype: str = "float32"


class Variant:
    """A converter configuration. Subclasses set the class attributes and :meth:`configure`."""

    name: ClassVar[str] = ""
    needs_calibration: ClassVar[bool] = False
    #: True when every operator must compute in integers (checked after conversion)
    integer_only: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    def configure(self, converter: Any, tf: Any, options: VariantOptions) -> None:
        """Set the converter's options for this variant."""
        raise NotImplementedError

    def _representative(self, converter: Any, options: VariantOptions) -> None:
        if options.calibration is None:
            raise ConversionError(f"{self.name} needs calibration data", hint="pass --calibration")
        converter.representative_dataset = options.calibration.representative_dataset()


class Fp32(Variant):
    name = "fp32"
    summary = "float32 (reference)"

    def configure(self, converter: Any, tf: Any, options: VariantOptions) -> None:
        converter.optimizations = []


class Fp16(Variant):
    name = "fp16"
    summary = "float16 weights"

    def configure(self, converter: Any, tf: Any, options: VariantOptions) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]


class Dynamic(Variant):
    name = "dynamic"
    summary = "dynamic-range int8 weights"

    def configure(self, converter: Any, tf: Any, options: VariantOptions) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]


class Int8(Variant):
    name = "int8"
    needs_calibration = True
    integer_only = True
    summary = "full-integer int8"

    def configure(self, converter: Any, tf: Any, options: VariantOptions) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        self._representative(converter, options)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if options.io_dtype != "float32":
            io = {"int8": tf.int8, "uint8": tf.uint8}[options.io_dtype]
            converter.inference_input_type = io
            converter.inference_output_type = io


class Int16x8(Variant):
    name = "int16x8"
    needs_calibration = True
    integer_only = True
    summary = "int16 activations, int8 weights"

    def configure(self, converter: Any, tf: Any, options: VariantOptions) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        self._representative(converter, options)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]


#: the converter variants by name, in conversion order
CONVERTER_VARIANTS: dict[str, Variant] = {v.name: v for v in (Fp32(), Fp16(), Dynamic(), Int8(), Int16x8())}


def tensorflow_version() -> str:
    """TensorFlow's version from the installed package metadata (no import)."""
    for dist in ("tensorflow", "tensorflow-cpu", "tf-nightly"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def converter_name() -> str:
    """The converter's description stored in every artifact."""
    return f"tensorflow {tensorflow_version()} TFLiteConverter"


def convert_variant(loaded: LoadedModel, variant: str, options: VariantOptions, dest: Path) -> float:
    """Convert ``loaded`` as ``variant`` and write the ``.tflite`` to ``dest``.

    Returns:
        The conversion time in seconds (TensorFlow's ``convert()`` call).

    Raises:
        ConversionError: TensorFlow failed (with the operator named when it says which),
            or an integer-only variant kept an operator in floating point.
    """
    spec = CONVERTER_VARIANTS[variant]
    with quiet_tensorflow(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf

        converter = loaded.make_converter()
        spec.configure(converter, tf, options)
        start = time.perf_counter()
        try:
            data = converter.convert()
        except Exception as exc:
            raise conversion_error(variant, exc) from exc
        seconds = time.perf_counter() - start
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(data)
    if spec.integer_only:
        floats = float_operators(read_model(tmp))
        if floats:
            tmp.unlink(missing_ok=True)
            raise not_integer_only(variant, floats)
    tmp.replace(dest)
    LOG.debug("converted %s in %.2f s -> %s (%d bytes)", variant, seconds, dest, len(data))
    return seconds


def not_integer_only(variant: str, ops: list[str], reason: str = "") -> ConversionError:
    """The error for an integer variant that cannot quantize ``ops`` (``reason``: why we know)."""
    names = ", ".join(ops)
    plural = "operators" if len(ops) > 1 else "operator"
    reason = reason or (f"the converter left {'them' if len(ops) > 1 else 'it'} in float32 "
                        "between DEQUANTIZE/QUANTIZE")
    return ConversionError(
        f"{variant}: {plural} {names} cannot be quantized to integer-only; {reason}",
        hint="use --variants dynamic (int8 weights, float activations) or fp16/fp32 for this model, "
             f"or replace {names} with an operator that has an integer kernel",
    )


_OP_PATTERNS = (
    (re.compile(r"not yet supported for op: '([^']+)'"), "quantize"),
    (re.compile(r"Failed to quantize[^\n]*?op '([^']+)'"), "quantize"),
    (re.compile(r"'([\w.]+)' op is neither a custom op nor a flex op"), "kernel"),
    (re.compile(r"op '([\w.]+)'"), "other"),
)


def conversion_error(variant: str, exc: BaseException) -> ConversionError:
    """Turn a TensorFlow converter exception into a ConversionError naming the operator."""
    text = str(exc)
    for pattern, kind in _OP_PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        op = match.group(1)
        if kind == "quantize":
            return not_integer_only(variant, [op], f"TensorFlow says: {_summary(text)}")
        if kind == "kernel":
            return ConversionError(
                f"{variant}: the TensorFlow op {op} has no LiteRT builtin kernel, so it cannot be converted",
                hint=f"replace {op} in the model with supported operations (edgekit does not enable "
                     "SELECT_TF_OPS: device runtimes usually lack the Flex delegate)",
            )
        return ConversionError(f"{variant}: TensorFlow could not convert op {op}: {_summary(text)}",
                               hint="run with --verbose for the converter's log; try another variant")
    return ConversionError(
        f"{variant}: TensorFlow's converter failed ({type(exc).__name__}: {_summary(text)})",
        hint="run with --verbose for the converter's log; try another variant",
    )


def _summary(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    first = lines[0] if lines else "no message"
    return first if len(first) <= limit else first[: limit - 1] + "…"


__all__ = ["Variant", "VariantOptions", "CONVERTER_VARIANTS", "IO_DTYPES", "convert_variant",
           "conversion_error", "not_integer_only", "tensorflow_version", "converter_name"]
