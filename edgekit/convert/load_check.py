"""Load check: a converted variant must load, prepare and run in LiteRT on this host.

TensorFlow's converter can write a file that the runtime refuses at ``AllocateTensors``
(``Prepare``). The known case is int16x8 with a fused ReLU6 after a layer whose output range
collapsed during calibration (a dead or near-dead layer: outputs below ~1e-4 on every
sample): its output scale is so small (int16 is symmetric: max/32767) that quantizing the
activation bound 6.0 overflows int32 (``kernel_util.cc``: ``no_integer_overflow_from_quantization
was not true``), and ``CONV_2D failed to prepare``.
Such a file is not an artifact: :func:`check_loads` raises a :class:`ConversionError` with
the runtime's reason, the operator (index, type, output tensor, output scale read from the
flatbuffer) and a hint, and the caller records the variant as failed.

The check runs one invocation on zeros (a batch of one): milliseconds for small models, a
small fraction of the conversion time for MobileNet-sized ones
(``benchmarks/convert_load_check.py`` prints the figures).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ConversionError
from ..tflite.quiet import quiet_tensorflow

LOG = logging.getLogger(__name__)

_NODE = re.compile(r"Node number (\d+) \(([A-Z0-9_]+)\) failed to (prepare|invoke)")
_CHECK = re.compile(r"([\w/.]+\.cc:\d+)\s+(.+?) was not true")


def check_loads(path: Path, variant: str) -> None:
    """Load ``path`` with the LiteRT interpreter, allocate its tensors and invoke it once on zeros.

    Raises:
        ConversionError: the runtime cannot load, prepare or run the file (the message has
            the runtime's reason and, when the runtime names it, the failing operator).
    """
    from ai_edge_litert.interpreter import Interpreter

    stage = "load"
    try:
        with quiet_tensorflow():
            interp = Interpreter(model_path=str(path), num_threads=1)
            stage = "prepare"
            interp.allocate_tensors()
            stage = "invoke"
            for d in interp.get_input_details():
                interp.set_tensor(d["index"], np.zeros([int(v) for v in d["shape"]], dtype=d["dtype"]))
            interp.invoke()
    except (ValueError, RuntimeError) as exc:
        raise load_error(path, variant, stage, str(exc)) from exc


def load_error(path: Path, variant: str, stage: str, text: str) -> ConversionError:
    """The ConversionError for a variant the runtime refused at ``stage`` with message ``text``."""
    reason = " ".join(ln.strip() for ln in text.strip().splitlines() if ln.strip()) or "no message"
    if len(reason) > 400:
        reason = reason[:399] + "…"
    node = _NODE.search(text)
    where = _operator(path, int(node.group(1)), node.group(2)) if node else None
    check = _CHECK.search(text)
    overflow = check is not None and "overflow" in check.group(2)
    message = (f"{variant}: converted, but the LiteRT runtime on this host cannot {stage} it: {reason}"
               + (f"; failing operator: {where}" if where else ""))
    alternative = "int8" if variant == "int16x8" else "dynamic or fp16"
    if overflow:
        at = f" at operator #{node.group(1)} {node.group(2)}" if node else ""
        hint = (f"use {alternative} instead, or fix the layer: a quantization scale overflows{at} because its "
                "output range was (almost) zero on every calibration sample (a dead or near-dead layer: tiny "
                "weights, or ReLU/ReLU6 after all-negative inputs; calibrating with representative data can help)")
    else:
        hint = (f"the converter wrote a file the runtime refuses; use {alternative} instead, or report it "
                "with the model and `edgekit --verbose convert` output")
    return ConversionError(message, hint=hint)


def _operator(path: Path, index: int, op_name: str) -> Optional[str]:
    """``"#2 CONV_2D (output 'model/conv/Relu6', scale 1.2e-12)"`` from the flatbuffer, or a plain
    ``"#2 CONV_2D"`` when the file cannot be read."""
    from ..tflite import read_model

    plain = f"#{index} {op_name}"
    try:
        ops = read_model(path).operators
    except Exception as exc:  # the runtime's words are enough; the reader is best effort here
        LOG.debug("cannot read %s to name operator %d: %s", path, index, exc)
        return plain
    if not 0 <= index < len(ops) or ops[index].name != op_name or not ops[index].outputs:
        return plain
    out = ops[index].outputs[0]
    scale = f", scale {out.scale:.3g}" if out.scale is not None else ""
    return f"{plain} (output '{out.name.split(';')[0]}'{scale})"  # fused names repeat every layer


__all__ = ["check_loads", "load_error"]
