"""Features of kernels and models for the latency regressors.

Three views of the same :class:`~edgekit.tflite.kernels.Kernel` list:

* :func:`basis` — a kernel's *additive basis*: a few non-negative quantities per
  ``type|dtype`` (a call, MACs, MACs padded to vector tiles, activation and weight bytes,
  weight bytes past a cache-size hinge). A model's basis
  is the sum over its kernels, so a non-negative linear fit on model rows is a per-kernel
  latency model whose sum is the model latency (see :mod:`edgekit.predict.regressors`).
* :func:`kernel_vector` — a kernel's numeric description for a per-kernel tree model.
* :func:`model_vector` — a model's aggregate (per-type MAC sums, bytes, alignment counts)
  for a model-level regressor.

Channel alignment: LiteRT's CPU kernels (XNNPACK and the optimized reference kernels) work
on channel tiles; a count off the tile runs a scalar remainder loop or pads. The basis
therefore carries MACs *padded* to the tile (``cout`` to 8 and 16, ``cin`` to 4 and 8)
and the MACs of kernels whose output (or input) channels are off a multiple of 8, so a fit can price misalignment apart
from work.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..tflite.kernels import KERNEL_DTYPES, KERNEL_TYPES, Kernel

#: the basis quantities of one kernel (each a column per ``type|dtype``)
BASIS_TERMS: tuple[str, ...] = ("call", "mega_macs", "mega_macs_pad8", "mega_macs_pad16",
                                "mega_macs_cout_off8", "mega_macs_cin_off8", "mega_act_bytes",
                                "mega_weight_bytes", "mega_weight_bytes_over_1m")
#: weights past this many bytes no longer sit in a core's L2 cache on typical CPUs: the
#: kernel streams them from memory on every invoke (a hinge term of the basis)
CACHE_HINGE_BYTES = 1 << 20
_MAC_TYPES = ("conv", "dwconv", "fc", "tconv")


def _pad(c: int, m: int) -> int:
    return int(math.ceil(c / m) * m) if c > 0 else 0


def padded_macs(k: Kernel, cout_tile: int, cin_tile: int) -> float:
    """MACs with the channel counts rounded up to their tiles (depthwise: channels only)."""
    if k.macs <= 0 or k.cout <= 0:
        return 0.0
    f = _pad(k.cout, cout_tile) / k.cout
    if k.type in ("conv", "fc", "tconv") and k.cin > 0:
        f *= _pad(k.cin, cin_tile) / k.cin
    return k.macs * f


def unaligned(k: Kernel) -> bool:
    """Channels off a multiple of 8 (cout, or cin of a dense/conv kernel past its first layer)."""
    if k.cout % 8:
        return True
    return k.type in ("conv", "fc", "tconv") and k.cin > 4 and k.cin % 8 != 0


def basis(k: Kernel) -> dict[str, float]:
    """The additive basis of one kernel, keyed ``type|dtype|term``."""
    key = f"{k.type}|{k.dtype}|"
    out = {key + "call": 1.0, key + "mega_act_bytes": k.activation_bytes / 1e6}
    if k.type in _MAC_TYPES:
        out[key + "mega_macs"] = k.macs / 1e6
        out[key + "mega_macs_pad8"] = padded_macs(k, 8, 4) / 1e6
        out[key + "mega_macs_pad16"] = padded_macs(k, 16, 8) / 1e6
        out[key + "mega_macs_cout_off8"] = k.macs / 1e6 if k.cout % 8 else 0.0
        out[key + "mega_macs_cin_off8"] = k.macs / 1e6 if (k.type != "dwconv" and k.cin > 4 and k.cin % 8) else 0.0
        out[key + "mega_weight_bytes"] = k.weight_bytes / 1e6
        out[key + "mega_weight_bytes_over_1m"] = max(0, k.weight_bytes - CACHE_HINGE_BYTES) / 1e6
    else:
        out[key + "mega_macs"] = k.flops / 1e6
    return out


def basis_columns() -> list[str]:
    """Every basis column, in a fixed order (so fitted weights are portable)."""
    cols = []
    for t in KERNEL_TYPES:
        for d in KERNEL_DTYPES:
            terms = BASIS_TERMS if t in _MAC_TYPES else ("call", "mega_macs", "mega_act_bytes")
            cols += [f"{t}|{d}|{term}" for term in terms]
    return cols


def basis_matrix(kernels: Sequence[Kernel], columns: Sequence[str]) -> np.ndarray:
    """One row per kernel over ``columns`` (unknown keys are dropped)."""
    index = {c: i for i, c in enumerate(columns)}
    m = np.zeros((len(kernels), len(columns)))
    for r, k in enumerate(kernels):
        for key, v in basis(k).items():
            j = index.get(key)
            if j is not None:
                m[r, j] = v
    return m


#: names of :func:`kernel_vector`'s entries
KERNEL_VECTOR_NAMES: tuple[str, ...] = (
    "log_macs", "log_flops", "log_in_bytes", "log_out_bytes", "log_weight_bytes", "cin", "cout",
    "kernel", "stride", "out_h", "out_w", "cin_mod4", "cin_mod8", "cin_mod16", "cout_mod4",
    "cout_mod8", "cout_mod16", "pad8_ratio", "pad16_ratio", "dtype_code", "activation",
)


def kernel_vector(k: Kernel) -> list[float]:
    """A kernel's numeric description for tree models (see :data:`KERNEL_VECTOR_NAMES`)."""
    oh = k.output_shape[1] if len(k.output_shape) == 4 else 1
    ow = k.output_shape[2] if len(k.output_shape) == 4 else 1
    a = k.alignment()
    ratio8 = padded_macs(k, 8, 4) / k.macs if k.macs else 1.0
    ratio16 = padded_macs(k, 16, 8) / k.macs if k.macs else 1.0
    return [math.log1p(k.macs), math.log1p(k.flops), math.log1p(k.input_bytes), math.log1p(k.output_bytes),
            math.log1p(k.weight_bytes), k.cin, k.cout, k.kernel_h, k.stride, oh, ow,
            a["cin_mod4"], a["cin_mod8"], a["cin_mod16"], a["cout_mod4"], a["cout_mod8"], a["cout_mod16"],
            ratio8, ratio16, KERNEL_DTYPES.index(k.dtype), 1.0 if k.activation else 0.0]


def model_dtype(kernels: Sequence[Kernel]) -> str:
    """The dtype of most of a model's MACs (fp32 when it has none)."""
    macs: dict[str, int] = {}
    for k in kernels:
        macs[k.dtype] = macs.get(k.dtype, 0) + max(k.macs, 1)
    return max(macs, key=lambda d: macs[d]) if macs else "fp32"


_AGG_TYPES = ("conv", "dwconv", "fc", "add", "maxpool", "avgpool", "global-pool", "quantize", "other")


def model_vector_names() -> list[str]:
    names = [f"dtype_{d}" for d in KERNEL_DTYPES]
    for t in _AGG_TYPES:
        names += [f"{t}_count", f"{t}_log_macs", f"{t}_log_bytes"]
    names += ["log_macs", "log_pad8_macs", "log_pad16_macs", "unaligned_mac_share", "log_weight_bytes",
              "log_act_bytes", "kernels", "conv1x1_share", "conv_k5_share", "log_max_act_bytes",
              "cout_mod8_count", "cin_mod8_count", "cout_mod4_count"]
    return names


def model_vector(kernels: Sequence[Kernel]) -> list[float]:
    """A model's aggregate description (see :func:`model_vector_names`)."""
    dt = model_dtype(kernels)
    v = [1.0 if d == dt else 0.0 for d in KERNEL_DTYPES]
    for t in _AGG_TYPES:
        ks = [k for k in kernels if (k.type if k.type in _AGG_TYPES else "other") == t
              or (t == "quantize" and k.type == "dequantize")]
        v += [len(ks), math.log1p(sum(k.macs or k.flops for k in ks)),
              math.log1p(sum(k.activation_bytes + k.weight_bytes for k in ks))]
    macs = sum(k.macs for k in kernels)
    un = sum(k.macs for k in kernels if k.macs and unaligned(k))
    convs = [k for k in kernels if k.type == "conv"]
    cmacs = sum(k.macs for k in convs) or 1
    v += [math.log1p(macs), math.log1p(sum(padded_macs(k, 8, 4) for k in kernels)),
          math.log1p(sum(padded_macs(k, 16, 8) for k in kernels)), un / macs if macs else 0.0,
          math.log1p(sum(k.weight_bytes for k in kernels)), math.log1p(sum(k.activation_bytes for k in kernels)),
          len(kernels), sum(k.macs for k in convs if k.kernel_h == 1) / cmacs,
          sum(k.macs for k in convs if k.kernel_h >= 5) / cmacs,
          math.log1p(max((k.activation_bytes for k in kernels), default=0)),
          sum(1 for k in kernels if k.macs and k.cout % 8), sum(1 for k in kernels if k.macs and k.cin % 8),
          sum(1 for k in kernels if k.macs and k.cout % 4)]
    return v
