"""The per-operator rules of the Edge TPU model requirements, applied to one operator.

Each rule returns the compiler's status text for the operator and, in edgekit's words, the
reason. The rules are those of Coral's "Model requirements" (fully 8-bit, constant sizes and
parameters, at most 3 non-unit innermost dimensions, supported operations with their
limitations; see :mod:`edgekit.edgetpu.ops` for the sources). Constants that decide a rule
(reduction axes, paddings, strides) are read from the model's buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..tflite.model_file import OperatorInfo, TensorInfo
from . import ops as table

_EIGHT_BIT = ("int8", "uint8")
_PARAM_INT = ("int32", "int64")
_ACTIVATIONS = {1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_NUMPY_TYPES = {2: np.int32, 4: np.int64, 9: np.int8, 3: np.uint8, 7: np.int16, 0: np.float32}


@dataclass(frozen=True)
class Finding:
    """What the rules say about one operator."""

    status: str
    reason: str = ""
    blocker: str = ""   # set when the compiler would refuse the whole model because of this op

    @property
    def mappable(self) -> bool:
        return self.status == table.MAPPED and not self.blocker


class ConstantData:
    """Reads the values of constant tensors of a model's main subgraph."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert import schema_py_generated as schema

        self._data = path.read_bytes()
        self._model = schema.Model.GetRootAsModel(self._data, 0)

    def values(self, tensor: TensorInfo) -> Optional[np.ndarray]:
        """The tensor's values reshaped to its shape, or None when not constant or unreadable."""
        if not tensor.is_constant:
            return None
        try:
            t = self._model.Subgraphs(0).Tensors(tensor.index)
            dtype = _NUMPY_TYPES.get(int(t.Type()))
            buf = self._model.Buffers(t.Buffer())
            if dtype is None or buf is None:
                return None
            if buf.DataLength() > 0:
                raw = buf.DataAsNumpy().tobytes()
            elif buf.Offset() > 1 and buf.Size() > 0:  # stored after the flatbuffer (large models)
                raw = self._data[buf.Offset(): buf.Offset() + buf.Size()]
            else:
                return None
            arr = np.frombuffer(raw, dtype=dtype)
            return arr.reshape(tensor.shape) if int(np.prod(tensor.shape)) == arr.size else arr
        except Exception:  # noqa: BLE001 - a rule that cannot read its constant says so below
            return None


def judge(op: OperatorInfo, consts: ConstantData, runtime: int) -> Finding:
    """Apply every rule to ``op`` for a compile that targets Edge TPU runtime ``runtime``."""
    builtin = not op.custom_code and not op.name.startswith("BUILTIN_")
    if not builtin:
        return Finding(table.NOT_SUPPORTED, f"custom operator '{op.name}' is not an Edge TPU operation")
    if not table.parseable(op.name, op.version):
        top = table.COMPILER_MAX_OP_VERSION.get(op.name)
        knows = f"reads {op.name} up to version {top}" if top else f"does not know {op.name} at all"
        return Finding(
            table.VERSION_NOT_SUPPORTED,
            f"{op.name} v{op.version} is newer than edgetpu_compiler {table.COMPILER_VERSION} reads",
            blocker=(f"edgetpu_compiler {table.COMPILER_VERSION} {knows} (its TFLite is about TF 2.6), so it "
                     f"refuses the whole model: \"Didn't find op for builtin opcode '{op.name}' version "
                     f"'{op.version}'\""),
        )
    spec = table.support(op.name)
    if spec is None:
        return Finding(table.NOT_SUPPORTED, f"{op.name} is not on Coral's list of supported operations")
    for check in (_dtype, _dynamic, _rank):
        found = check(op)
        if found is not None:
            return found
    if spec.min_runtime > runtime:
        return Finding(table.NOT_SUPPORTED,
                       f"{spec.coral_name} needs Edge TPU runtime {spec.min_runtime}+; compiling for runtime {runtime}")
    for i in spec.param_inputs:
        if i < len(op.inputs) and not op.inputs[i].is_constant:
            return Finding(table.UNSPECIFIED,
                           f"input {i} ('{op.inputs[i].name}') must be a compile-time constant")
    special = _SPECIAL.get(op.name)
    if special is not None:
        found = special(op, consts, runtime)
        if found is not None:
            return found
    return Finding(table.MAPPED)


def _tensors(op: OperatorInfo) -> list[TensorInfo]:
    return list(op.inputs) + list(op.outputs)


def _dtype(op: OperatorInfo) -> Optional[Finding]:
    for t in _tensors(op):
        if t.dtype.startswith("float") or t.dtype.startswith("complex"):
            return Finding(table.UNSUPPORTED_DTYPE, f"tensor '{t.name}' is {t.dtype}; the Edge TPU runs 8-bit only")
        if not t.is_constant and t.dtype not in _EIGHT_BIT:
            return Finding(table.UNSUPPORTED_DTYPE, f"tensor '{t.name}' is {t.dtype}; the Edge TPU runs 8-bit only")
        if t.is_constant and t.dtype not in _EIGHT_BIT + _PARAM_INT:
            return Finding(table.UNSUPPORTED_DTYPE, f"constant '{t.name}' is {t.dtype}; parameters must be 8-bit")
    return None


def _dynamic(op: OperatorInfo) -> Optional[Finding]:
    for t in _tensors(op):
        dims = [i for i, d in enumerate(t.shape_signature) if d < 0 and i > 0]
        if not t.is_constant and dims:
            return Finding(table.UNSPECIFIED,
                           f"tensor '{t.name}' has dynamic dimension(s) {dims} (shape signature "
                           f"{list(t.shape_signature)}); sizes must be constant at compile time")
    return None


def _rank(op: OperatorInfo) -> Optional[Finding]:
    for t in _tensors(op):
        if not t.is_constant and len(t.shape) > 3 and any(d != 1 for d in t.shape[:-3]):
            return Finding(table.UNSUPPORTED_RANK,
                           f"tensor '{t.name}' has shape {list(t.shape)}: only the 3 innermost dimensions may exceed 1")
    return None


def _fused(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    act = int(op.options.get("fusedActivationFunction", 0) or 0)
    if act:
        return Finding(table.UNSPECIFIED, f"{op.name} with a fused {_ACTIVATIONS.get(act, act)} activation")
    if op.name == "CONCATENATION":
        const = [t for t in op.inputs if t.is_constant]
        if const:
            values = consts.values(const[0])
            if len(op.inputs) != 2 or len(const) != 1 or values is None or np.any(values != 0):
                return Finding(table.UNSPECIFIED,
                               "a constant input to CONCATENATION must be the only other input and all zeros")
    return None


def _conv(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    dw, dh = int(op.options.get("dilationWFactor", 1) or 1), int(op.options.get("dilationHFactor", 1) or 1)
    if dw != dh:
        return Finding(table.UNSPECIFIED, f"dilation differs in x ({dw}) and y ({dh})")
    if op.name == "DEPTHWISE_CONV_2D" and runtime <= 12 and dw > 1:
        return Finding(table.UNSPECIFIED, f"dilated depthwise convolution needs runtime 13+ (compiling for {runtime})")
    return None


def _fully_connected(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    if int(op.options.get("weightsFormat", 0) or 0) != 0:
        return Finding(table.UNSPECIFIED, "FULLY_CONNECTED weights are not in the default format")
    out = op.outputs[0].shape if op.outputs else ()
    if sum(1 for d in out[1:] if d != 1) > 1:
        return Finding(table.UNSPECIFIED, f"FULLY_CONNECTED output {list(out)} is not one-dimensional")
    return None


def _axes(op: OperatorInfo, consts: ConstantData, index: int) -> Optional[list[int]]:
    if index >= len(op.inputs) or not op.inputs:
        return None
    values = consts.values(op.inputs[index])
    if values is None:
        return None
    rank = len(op.inputs[0].shape) if index != 0 else len(op.inputs[1].shape)
    return sorted({int(a) % rank if rank else int(a) for a in np.ravel(values)})


def _reduce(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    axes = _axes(op, consts, 1)
    shape = op.inputs[0].shape
    if axes is None:
        return Finding(table.UNSPECIFIED, f"the {op.name} axes could not be read")
    if len(shape) > 1 and 0 in axes:
        return Finding(table.UNSPECIFIED, f"{op.name} reduces over the batch dimension (axes {axes})")
    if op.name == "MEAN":
        last = len(shape) - 1
        if runtime <= 12 and any(a not in (1, 2) for a in axes):
            return Finding(table.UNSPECIFIED, f"MEAN over axes {axes}: runtime {runtime} reduces over x/y only")
        if last in axes and last > 0 and shape[last] % 4:
            return Finding(table.UNSPECIFIED, f"MEAN over the channels needs a multiple of 4 (has {shape[last]})")
    return None


def _pad(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    pads = consts.values(op.inputs[1]) if len(op.inputs) > 1 else None
    if pads is None:
        return Finding(table.UNSPECIFIED, "the PAD paddings could not be read")
    pads = np.asarray(pads).reshape(-1, 2)
    if len(pads) > 1 and np.any(pads[0] != 0):
        return Finding(table.UNSPECIFIED, f"PAD pads the batch dimension ({pads[0].tolist()})")
    if runtime <= 12 and len(pads) == 4 and np.any(pads[3] != 0):
        return Finding(table.UNSPECIFIED, f"PAD over the channels needs runtime 13+ (compiling for {runtime})")
    return None


def _pack(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    if int(op.options.get("axis", 0) or 0) == 0:
        return Finding(table.UNSPECIFIED, "PACK packs along the batch dimension (axis 0)")
    return None


def _split(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    axes = _axes(op, consts, 0)
    if axes is None:
        return Finding(table.UNSPECIFIED, "the SPLIT axis could not be read")
    if 0 in axes:
        return Finding(table.UNSPECIFIED, "SPLIT splits the batch dimension")
    return None


def _softmax(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    shape = op.inputs[0].shape
    inner = [d for d in shape[1:] if d != 1] if len(shape) > 1 else [d for d in shape if d != 1]
    if len(inner) > 1:
        return Finding(table.UNSPECIFIED, f"SOFTMAX input {list(shape)} is not 1-D")
    if inner and inner[0] > 16000:
        return Finding(table.UNSPECIFIED, f"SOFTMAX over {inner[0]} elements (at most 16,000)")
    return None


def _strided_slice(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    if int(op.options.get("ellipsisMask", 0) or 0) or int(op.options.get("newAxisMask", 0) or 0):
        return Finding(table.UNSPECIFIED, "STRIDED_SLICE with an ellipsis or new-axis mask")
    strides = consts.values(op.inputs[3]) if len(op.inputs) > 3 else None
    if strides is None or np.any(np.asarray(strides) != 1):
        shown = "unreadable" if strides is None else np.ravel(strides).tolist()
        return Finding(table.UNSPECIFIED, f"STRIDED_SLICE strides must all be 1 (are {shown})")
    return None


def _prelu(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    alpha = op.inputs[1].shape if len(op.inputs) > 1 else ()
    if any(d != 1 for d in alpha[:-1]):
        return Finding(table.UNSPECIFIED,
                       f"PRELU alpha has shape {list(alpha)}; use shared_axes=[1, 2] so only the channels vary")
    return None


def _dequantize(op: OperatorInfo, consts: ConstantData, runtime: int) -> Optional[Finding]:
    return Finding(table.UNSUPPORTED_DTYPE, "DEQUANTIZE produces float")


_SPECIAL: dict[str, Any] = {
    "AVERAGE_POOL_2D": _fused, "MAX_POOL_2D": _fused, "CONCATENATION": _fused,
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "FULLY_CONNECTED": _fully_connected,
    "MEAN": _reduce, "SUM": _reduce, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce,
    "PAD": _pad, "PACK": _pack, "SPLIT": _split, "SOFTMAX": _softmax,
    "STRIDED_SLICE": _strided_slice, "PRELU": _prelu, "DEQUANTIZE": _dequantize,
}
