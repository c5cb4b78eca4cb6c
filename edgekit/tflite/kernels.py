"""Kernels of a ``.tflite`` model as the LiteRT CPU runtime executes them, with the features
a latency predictor needs — read from the flatbuffer alone (no TensorFlow).

Kernel detection (main subgraph, execution order; each rule documented by what the runtime
does with it):

* **One operator, one kernel** for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
  TRANSPOSE_CONV, pools, MEAN, ADD/MUL/SUB of two activations, CONCATENATION, SOFTMAX, …:
  TFLite already fuses the bias and the fused activation (``fused_activation_function``)
  into conv / depthwise / fully-connected / add, so Conv2D + BatchNorm + ReLU of Keras is
  one CONV_2D here.
* **Standalone clamps fused into their producer**: RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1
  directly after a kernel whose output has no other consumer are folded into that kernel
  (XNNPACK fuses clamps into the preceding node; the reference kernels clamp on output).
* **Constant bias/scale fused**: an ADD or MUL with a constant operand after a conv /
  depthwise / fully-connected kernel whose output has no other consumer (an unfolded bias
  or BatchNorm) is folded into that kernel.
* **PAD + CONV**: a PAD whose only consumer is a CONV_2D or DEPTHWISE_CONV_2D (Keras
  ``ZeroPadding2D`` before a ``valid`` convolution, as in MobileNet) is folded into the
  convolution, whose input shape is then the unpadded one (XNNPACK folds explicit padding).
* **fp16 weights**: a DEQUANTIZE of a constant float16 tensor is weight decompression done
  once at init; it is no kernel, and its consumer's dtype is ``fp16-dequantized``.
* **Edges of a quantized model**: QUANTIZE of a graph input and DEQUANTIZE of a graph output
  (float I/O around an int8 model) are kernels of type ``quantize`` / ``dequantize``
  (their cost is per element); so are QUANTIZE/DEQUANTIZE inside the graph (requantization).
* RESHAPE / SQUEEZE / EXPAND_DIMS are kernels of type ``reshape`` (a copy at most).

A kernel's dtype is ``int8`` (int8 activations), ``int16x8`` (int16 activations),
``fp16-dequantized`` (float activations, float16 weights), ``hybrid-int8`` (float
activations, int8 weights: dynamic-range quantization) or ``fp32``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from .model_file import ModelFile, OperatorInfo, TensorInfo, read_model

#: operator name → kernel type
_KERNEL_TYPES: dict[str, str] = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dwconv", "FULLY_CONNECTED": "fc",
    "TRANSPOSE_CONV": "tconv", "MAX_POOL_2D": "maxpool", "AVERAGE_POOL_2D": "avgpool",
    "MEAN": "global-pool", "ADD": "add", "MUL": "mul", "SUB": "add", "CONCATENATION": "concat",
    "SOFTMAX": "softmax", "LOGISTIC": "activation", "HARD_SWISH": "activation", "TANH": "activation",
    "RELU": "activation", "RELU6": "activation", "RELU_N1_TO_1": "activation",
    "RELU_0_TO_1": "activation", "LEAKY_RELU": "activation", "PRELU": "activation",
    "QUANTIZE": "quantize", "DEQUANTIZE": "dequantize", "RESHAPE": "reshape", "SQUEEZE": "reshape",
    "EXPAND_DIMS": "reshape", "PAD": "pad", "RESIZE_BILINEAR": "resize",
    "RESIZE_NEAREST_NEIGHBOR": "resize",
}
_CLAMPS = {"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"}
_ACTIVATIONS = {0: "", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}
_DTYPE_BYTES = {"float32": 4, "float16": 2, "int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8}
#: kernel types whose weights are a filter tensor (input 1)
WEIGHTED_TYPES = ("conv", "dwconv", "fc", "tconv")
#: every kernel type this module produces (others are ``other``)
KERNEL_TYPES: tuple[str, ...] = tuple(sorted(set(_KERNEL_TYPES.values()) | {"other"}))
#: every kernel dtype this module produces
KERNEL_DTYPES: tuple[str, ...] = ("fp32", "fp16-dequantized", "hybrid-int8", "int8", "int16x8")


@dataclass(frozen=True)
class Kernel:
    """One fused kernel: what the runtime executes as one node."""

    index: int                         # position among the model's kernels
    type: str                          # one of KERNEL_TYPES
    ops: tuple[str, ...]               # the operators folded into it, first is the main one
    op_indices: tuple[int, ...]
    dtype: str                         # one of KERNEL_DTYPES
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    kernel_h: int = 0
    kernel_w: int = 0
    stride: int = 1
    cin: int = 0
    cout: int = 0
    activation: str = ""
    padding: str = ""
    macs: int = 0
    flops: int = 0
    weight_bytes: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def activation_bytes(self) -> int:
        return self.input_bytes + self.output_bytes

    def alignment(self) -> dict[str, int]:
        """``cin_mod4`` … ``cout_mod16``: the remainders that decide vectorized paths."""
        return {f"{side}_mod{m}": (getattr(self, side) % m) for side in ("cin", "cout") for m in (4, 8, 16)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(activation_bytes=self.activation_bytes, **self.alignment())
        d["input_shape"], d["output_shape"] = list(self.input_shape), list(self.output_shape)
        d["ops"], d["op_indices"] = list(self.ops), list(self.op_indices)
        return d


def _nbytes(t: TensorInfo) -> int:
    return _numel(t.shape) * _DTYPE_BYTES.get(t.dtype, 4)


def _numel(shape: Sequence[int]) -> int:
    return int(math.prod(max(1, d) for d in shape)) if shape else 1


def _channels(shape: Sequence[int]) -> int:
    return int(shape[-1]) if shape else 0


class _Graph:
    def __init__(self, mf: ModelFile):
        self.mf = mf
        self.producer: dict[int, OperatorInfo] = {}
        self.consumers: dict[int, list[OperatorInfo]] = {}
        for op in mf.operators:
            for t in op.outputs:
                self.producer[t.index] = op
            for t in op.inputs:
                self.consumers.setdefault(t.index, []).append(op)
        self.graph_inputs = {t.index for t in mf.inputs}
        self.graph_outputs = {t.index for t in mf.outputs}

    def sole_consumer(self, t: TensorInfo) -> Optional[OperatorInfo]:
        users = self.consumers.get(t.index, [])
        if len(users) == 1 and t.index not in self.graph_outputs:
            return users[0]
        return None

    def fp16_weight(self, t: TensorInfo) -> bool:
        """The tensor is the float output of a DEQUANTIZE of a constant float16 tensor."""
        p = self.producer.get(t.index)
        return bool(p is not None and p.name == "DEQUANTIZE" and p.inputs
                    and p.inputs[0].is_constant and p.inputs[0].dtype == "float16")

    def is_weight(self, t: TensorInfo) -> bool:
        return t.is_constant or self.fp16_weight(t)


def detect_kernels(model: str | Path | ModelFile) -> list[Kernel]:
    """The fused kernels of a model's main subgraph, in execution order (see the module
    docstring for the rules).

    Raises:
        ConfigError: the file is missing or not a readable ``.tflite`` model.
    """
    mf = model if isinstance(model, ModelFile) else read_model(model)
    g = _Graph(mf)
    absorbed: set[int] = set()
    groups: list[list[OperatorInfo]] = []
    for op in mf.operators:
        if op.index in absorbed:
            continue
        if op.name == "DEQUANTIZE" and op.outputs and g.fp16_weight(op.outputs[0]):
            absorbed.add(op.index)  # weight decompression at init, not a kernel
            continue
        if op.name == "PAD" and op.outputs:
            user = g.sole_consumer(op.outputs[0])
            if user is not None and user.name in ("CONV_2D", "DEPTHWISE_CONV_2D") \
                    and user.inputs and user.inputs[0].index == op.outputs[0].index:
                absorbed.add(op.index)
                group = [user, op]
                absorbed.add(user.index)
                groups.append(group)
                _absorb_followers(g, group, absorbed)
                continue
        group = [op]
        absorbed.add(op.index)
        groups.append(group)
        _absorb_followers(g, group, absorbed)
    return [_kernel(i, grp, g) for i, grp in enumerate(groups)]


def _absorb_followers(g: _Graph, group: list[OperatorInfo], absorbed: set[int]) -> None:
    """Fold clamps, and constant bias/scale after weighted kernels, into the group."""
    main = group[0]
    ktype = _KERNEL_TYPES.get(main.name, "other")
    while True:
        tail = _last_output(group)
        if tail is None:
            return
        user = g.sole_consumer(tail)
        if user is None or user.index in absorbed:
            return
        if user.name in _CLAMPS and ktype not in ("reshape", "quantize", "dequantize", "other"):
            pass
        elif user.name in ("ADD", "MUL") and ktype in WEIGHTED_TYPES \
                and any(g.is_weight(t) for t in user.inputs if t.index != tail.index):
            pass
        else:
            return
        group.append(user)
        absorbed.add(user.index)


def _last_output(group: list[OperatorInfo]) -> Optional[TensorInfo]:
    for op in reversed(group):
        if op.name != "PAD" and op.outputs:
            return op.outputs[0]
    return None


def _dtype(act: Optional[TensorInfo], weight: Optional[TensorInfo], fp16: bool) -> str:
    if act is not None and act.dtype in ("int8", "uint8"):
        return "int8"
    if act is not None and act.dtype == "int16":
        return "int16x8"
    if fp16:
        return "fp16-dequantized"
    if weight is not None and weight.dtype in ("int8", "uint8"):
        return "hybrid-int8"
    return "fp32"


def _kernel(index: int, group: list[OperatorInfo], g: _Graph) -> Kernel:
    main = group[0]
    pad = next((op for op in group if op.name == "PAD"), None)
    ktype = _KERNEL_TYPES.get(main.name, "other")
    acts = [t for t in main.inputs if not g.is_weight(t)]
    act_in = (pad.inputs[0] if pad is not None else (acts[0] if acts else None))
    out_t = _last_output(group)
    weight = main.inputs[1] if ktype in WEIGHTED_TYPES and len(main.inputs) > 1 else None
    if main.name == "TRANSPOSE_CONV" and len(main.inputs) > 1:
        weight = main.inputs[1]
    fp16 = any(g.fp16_weight(t) for op in group for t in op.inputs)
    if main.name in ("QUANTIZE", "DEQUANTIZE") and main.inputs:
        dtype = _dtype(main.inputs[0] if main.name == "DEQUANTIZE" else main.outputs[0], None, False)
    else:
        dtype = _dtype(act_in, weight, fp16)
    in_shape = tuple(act_in.shape) if act_in is not None else ()
    out_shape = tuple(out_t.shape) if out_t is not None else ()
    opts = main.options
    act_names = [_ACTIVATIONS.get(int(op.options.get("fusedActivationFunction", 0) or 0), "")
                 for op in group] + [op.name.lower() for op in group[1:] if op.name in _CLAMPS]
    activation = next((a for a in act_names if a), "")
    kh = kw = 0
    stride = int(opts.get("strideH", 1) or 1)
    cin, cout = _channels(in_shape), _channels(out_shape)
    out_px = _numel(out_shape[1:-1]) * (out_shape[0] if out_shape else 1) if len(out_shape) >= 2 else 1
    macs = 0
    flops = _numel(out_shape)
    weight_bytes = 0
    weight_t = [t for op in group for t in op.inputs if g.is_weight(t)
                and (ktype in WEIGHTED_TYPES or t.dtype not in ("int32", "int64"))]  # not axes/shapes
    for t in weight_t:
        src = g.producer.get(t.index)
        weight_bytes += _nbytes(src.inputs[0]) if (src is not None and src.name == "DEQUANTIZE") else _nbytes(t)
    if ktype in ("conv", "dwconv", "tconv") and weight is not None and len(weight.shape) == 4:
        kh, kw = int(weight.shape[1]), int(weight.shape[2])
        if ktype == "conv":
            macs = out_px * cout * kh * kw * int(weight.shape[3])
        elif ktype == "dwconv":
            macs = out_px * cout * kh * kw
        else:  # transpose conv: every input pixel scatters a kh×kw×cout patch
            macs = _numel(in_shape[:-1]) * cin * kh * kw * int(weight.shape[0])
            cout = int(weight.shape[0])
        fused_elementwise = len(group) - (2 if pad is not None else 1)
        flops = 2 * macs + _numel(out_shape) * (1 + fused_elementwise)  # bias + fused ops
    elif ktype == "fc" and weight is not None and len(weight.shape) == 2:
        units, depth = int(weight.shape[0]), int(weight.shape[1])
        rows = max(1, _numel(in_shape) // max(1, depth))
        macs = rows * units * depth
        cin, cout = depth, units
        flops = 2 * macs + rows * units
    elif ktype in ("maxpool", "avgpool"):
        kh, kw = int(opts.get("filterHeight", 1) or 1), int(opts.get("filterWidth", 1) or 1)
        flops = _numel(out_shape) * kh * kw
    elif ktype == "global-pool":
        flops = _numel(in_shape)
        if len(in_shape) == 4:
            kh, kw = int(in_shape[1]), int(in_shape[2])
    elif ktype == "softmax":
        flops = 3 * _numel(out_shape)
    padding = {0: "same", 1: "valid"}.get(int(opts["padding"]), "") if "padding" in opts else ""
    if pad is not None:
        padding = "explicit"
    in_bytes = sum(_nbytes(t) for t in ([act_in] if act_in is not None else []) + acts[1:])
    return Kernel(
        index=index, type=ktype, ops=tuple(op.name for op in group),
        op_indices=tuple(op.index for op in group), dtype=dtype,
        input_shape=in_shape, output_shape=out_shape, kernel_h=kh, kernel_w=kw, stride=stride,
        cin=cin, cout=cout, activation=activation, padding=padding, macs=int(macs), flops=int(flops),
        weight_bytes=int(weight_bytes), input_bytes=int(in_bytes),
        output_bytes=_nbytes(out_t) if out_t is not None else 0,
        extra={"dilation": int(opts.get("dilationHFactor", 1) or 1)} if ktype in ("conv", "dwconv") else {},
    )


def kernel_summary(kernels: Sequence[Kernel]) -> dict[str, Any]:
    """Totals over a model's kernels: count, MACs, weight and activation bytes, by type."""
    out: dict[str, Any] = {"kernels": len(kernels), "macs": sum(k.macs for k in kernels),
                           "weight_bytes": sum(k.weight_bytes for k in kernels),
                           "activation_bytes": sum(k.activation_bytes for k in kernels), "by_type": {}}
    for k in kernels:
        row = out["by_type"].setdefault(k.type, {"count": 0, "macs": 0})
        row["count"] += 1
        row["macs"] += k.macs
    return out
