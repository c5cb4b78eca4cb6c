"""What the Edge TPU compiler maps: Coral's supported-operation table, written as data.

Sources (public pages and issue threads; re-check them if Coral publishes a new compiler):

* Coral, "TensorFlow models on the Edge TPU", section "Supported operations" and
  "Model requirements" — https://coral.ai/docs/edgetpu/models-intro/#supported-operations
  (the same list, with the same limitations, is republished for the Edge-TPU-based Axis
  ARTPEC-7: https://developer.axis.com/computer-vision/on-device/system-on-chip/artpec-7/supported-ops/).
  The limitations below are paraphrased; ``min_runtime`` is the table's "runtime version"
  column (``All`` = 10, the first public runtime). The runtime column is from memory of the
  Coral page as of compiler 16.0 and is the least certain part of this table.
* Coral, "Edge TPU Compiler" — https://coral.ai/docs/edgetpu/compiler/ (flags, install, and the
  compiler → runtime version table: 1.0 → 10, 2.0 → 12, 2.1/14.1/15.0 → 13, 16.0 → 14; the
  16.0 → 14 pair is also what users hit as "Package requires runtime version (14), which is
  newer than this runtime version (13)").
* What the compiler can *parse*: ``edgetpu_compiler`` links its own (old) TFLite, so a model
  that uses an op version newer than that TFLite is rejected whole with "Didn't find op for
  builtin opcode 'X' version 'N' … Model could not be parsed". Reported for compiler
  16.0.384591198 with QUANTIZE v3 (TF 2.7), CONV_2D v6 (TF 2.9), TRANSPOSE_CONV v4 and EXP v2
  (google-coral/edgetpu#879, #631, #845, google-coral/libedgetpu#71); RSQRT v2 (TF 2.5) parses
  (google-coral/edgetpu#384). :data:`COMPILER_MAX_OP_VERSION` is therefore the highest version
  of each op that TFLite 2.6 knew (tensorflow/lite/tools/versioning/runtime_version.cc); an op
  missing from it (e.g. GELU, added in TF 2.9) is predicted unparseable.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the compiler that edgekit's tables describe (the last one Coral released)
COMPILER_VERSION = "16.0"
#: the runtime version that compiler targets unless told otherwise with ``-m``
DEFAULT_RUNTIME_VERSION = 14
#: Edge TPU runtime version each compiler targets by default (Coral's compiler page)
COMPILER_RUNTIME_VERSION: dict[str, int] = {"1.0": 10, "2.0": 12, "2.1": 13, "14.1": 13, "15.0": 13, "16.0": 14}
#: Edge TPU runtime version of the first public runtime ("All" in Coral's table)
FIRST_RUNTIME_VERSION = 10

# Compiler status texts, exactly as edgetpu_compiler prints them.
MAPPED = "Mapped to Edge TPU"
NOT_SUPPORTED = "Operation not supported"
VERSION_NOT_SUPPORTED = "Operation version not supported"
UNSUPPORTED_DTYPE = "Operation is working on an unsupported data type"
UNSUPPORTED_RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
UNSPECIFIED = "Operation is otherwise supported, but not mapped due to some unspecified limitation"
AFTER_CUT = "More than one subgraph is not supported"
STATUSES = (MAPPED, NOT_SUPPORTED, VERSION_NOT_SUPPORTED, UNSUPPORTED_DTYPE, UNSUPPORTED_RANK,
            UNSPECIFIED, AFTER_CUT)


@dataclass(frozen=True)
class OpSupport:
    """One row of Coral's supported-operation table."""

    name: str                       # the TFLite builtin operator name
    coral_name: str                 # the name in Coral's table
    min_runtime: int                # the first Edge TPU runtime version that maps it
    limitations: str = ""           # Coral's known limitations, paraphrased
    param_inputs: tuple[int, ...] = ()  # inputs that must be constant at compile time
    never_mapped: bool = False      # listed only so the status reads like the compiler's


def _op(name: str, coral: str, runtime: int = FIRST_RUNTIME_VERSION, limitations: str = "",
        params: tuple[int, ...] = (), never: bool = False) -> OpSupport:
    return OpSupport(name, coral, runtime, limitations, params, never)


_NO_FUSED = "No fused activation function."
_RESIZE = ("Input/output is a 3-dimensional tensor (batch 1). Depending on the sizes the compiler "
           "may leave it on the CPU to avoid a loss of precision.")

#: Coral's supported operations, keyed by TFLite builtin name
SUPPORTED: dict[str, OpSupport] = {o.name: o for o in (
    _op("ADD", "Add"),
    _op("AVERAGE_POOL_2D", "AveragePool2d", limitations=_NO_FUSED),
    _op("CONCATENATION", "Concatenation", limitations=(
        _NO_FUSED + " If an input is a compile-time constant, there must be exactly 2 inputs and the "
        "constant must be all zeros (a zero-padding).")),
    _op("CONV_2D", "Conv2d", limitations="The same dilation in x and y.", params=(1, 2)),
    _op("DEPTHWISE_CONV_2D", "DepthwiseConv2d", limitations=(
        "The same dilation in x and y (runtime 13+; older runtimes: no dilation)."), params=(1, 2)),
    _op("EXPAND_DIMS", "ExpandDims", 13, params=(1,)),
    _op("FULLY_CONNECTED", "FullyConnected", limitations=(
        "Only the default weights format. The output is one-dimensional (besides the batch)."),
        params=(1, 2)),
    _op("L2_NORMALIZATION", "L2Normalization"),
    _op("LOGISTIC", "Logistic"),
    _op("UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM", 14, limitations="Unidirectional LSTM only."),
    _op("LSTM", "LSTM", 14, limitations="Unidirectional LSTM only."),
    _op("MAXIMUM", "Maximum"),
    _op("MAX_POOL_2D", "MaxPool2d", limitations=_NO_FUSED),
    _op("MEAN", "Mean", limitations=(
        "No reduction over the batch dimension; a reduction over z (channels) needs z to be a "
        "multiple of 4 (runtime 13+; older runtimes: x and/or y only)."), params=(1,)),
    _op("MINIMUM", "Minimum"),
    _op("MUL", "Mul"),
    _op("PACK", "Pack", 13, limitations="No packing in the batch dimension."),
    _op("PAD", "Pad", limitations=(
        "No padding in the batch dimension (runtime 13+; older runtimes: x and/or y only)."),
        params=(1,)),
    _op("PRELU", "PReLU", 13, limitations=(
        "Alpha is 1-dimensional (only the innermost dimension > 1): Keras PReLU on 4-D inputs needs "
        "shared_axes=[1, 2]."), params=(1,)),
    _op("QUANTIZE", "Quantize", 13),
    _op("REDUCE_MAX", "ReduceMax", 14, limitations="Not over the batch dimension.", params=(1,)),
    _op("REDUCE_MIN", "ReduceMin", 14, limitations="Not over the batch dimension.", params=(1,)),
    _op("RELU", "ReLU"),
    _op("RELU6", "ReLU6"),
    _op("RELU_N1_TO_1", "ReLUN1To1"),
    _op("RESHAPE", "Reshape", limitations="Some reshapes of large tensors are not mapped."),
    _op("RESIZE_BILINEAR", "ResizeBilinear", limitations=_RESIZE, params=(1,)),
    _op("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighbor", limitations=_RESIZE, params=(1,)),
    _op("RSQRT", "Rsqrt", 14),
    _op("SLICE", "Slice", params=(1, 2)),
    _op("SOFTMAX", "Softmax", limitations="Only a 1-D input (besides the batch) of at most 16,000 elements."),
    _op("SPACE_TO_DEPTH", "SpaceToDepth"),
    _op("SPLIT", "Split", limitations="No splitting in the batch dimension.", params=(0,)),
    _op("SQUEEZE", "Squeeze"),
    _op("STRIDED_SLICE", "StridedSlice", limitations=(
        "All strides 1 (a plain slice), ellipsis_mask 0 and new_axis_mask 0."), params=(1, 2, 3)),
    _op("SUB", "Sub"),
    _op("SUM", "Sum", 13, limitations="Not over the batch dimension.", params=(1,)),
    _op("SQUARED_DIFFERENCE", "SquaredDifference", 14),
    _op("TANH", "Tanh"),
    _op("TRANSPOSE", "Transpose", 14, params=(1,)),
    _op("TRANSPOSE_CONV", "TransposeConv", 13, params=(0, 1)),
    # Not on Coral's list: DEQUANTIZE always produces float, so the compiler reports it as
    # working on an unsupported data type (which is what users see for float-output models).
    _op("DEQUANTIZE", "Dequantize", never=True),
)}

#: highest version of each builtin that edgetpu_compiler 16.0's TFLite (≈ TF 2.6) parses
COMPILER_MAX_OP_VERSION: dict[str, int] = {
    "ABS": 4, "ADD": 4, "ADD_N": 1, "ARG_MAX": 2, "ARG_MIN": 2, "ASSIGN_VARIABLE": 1,
    "AVERAGE_POOL_2D": 3, "BATCH_MATMUL": 4, "BATCH_TO_SPACE_ND": 3, "BIDIRECTIONAL_SEQUENCE_LSTM": 3,
    "BIDIRECTIONAL_SEQUENCE_RNN": 3, "BROADCAST_ARGS": 1, "BROADCAST_TO": 3, "CALL_ONCE": 1, "CAST": 1,
    "CEIL": 1, "COMPLEX_ABS": 1, "CONCATENATION": 3, "CONV_2D": 5, "CONV_3D": 1, "CONV_3D_TRANSPOSE": 1,
    "COS": 1, "CUMSUM": 1, "DENSIFY": 1, "DEPTH_TO_SPACE": 2, "DEPTHWISE_CONV_2D": 6, "DEQUANTIZE": 4,
    "DIV": 2, "ELU": 1, "EMBEDDING_LOOKUP": 3, "EMBEDDING_LOOKUP_SPARSE": 1, "EQUAL": 3, "EXP": 1,
    "EXPAND_DIMS": 1, "FAKE_QUANT": 2, "FILL": 3, "FLOOR": 1, "FLOOR_DIV": 2, "FLOOR_MOD": 1,
    "FULLY_CONNECTED": 9, "GATHER": 5, "GATHER_ND": 3, "GREATER": 2, "GREATER_EQUAL": 2,
    "HARD_SWISH": 1, "HASHTABLE": 1, "HASHTABLE_FIND": 1, "HASHTABLE_IMPORT": 1, "HASHTABLE_LOOKUP": 1,
    "HASHTABLE_SIZE": 1, "IF": 1, "IMAG": 1, "L2_NORMALIZATION": 2, "L2_POOL_2D": 1, "LEAKY_RELU": 2,
    "LESS": 2, "LESS_EQUAL": 2, "LOCAL_RESPONSE_NORMALIZATION": 1, "LOG": 1, "LOG_SOFTMAX": 2,
    "LOGICAL_AND": 1, "LOGICAL_NOT": 1, "LOGICAL_OR": 1, "LOGISTIC": 3, "LSH_PROJECTION": 1, "LSTM": 4,
    "MATRIX_DIAG": 1, "MATRIX_SET_DIAG": 1, "MAX_POOL_2D": 3, "MAXIMUM": 4, "MEAN": 3, "MINIMUM": 4,
    "MIRROR_PAD": 2, "MUL": 5, "NEG": 1, "NON_MAX_SUPPRESSION_V4": 1, "NON_MAX_SUPPRESSION_V5": 1,
    "NOT_EQUAL": 3, "ONE_HOT": 1, "PACK": 3, "PAD": 4, "PADV2": 4, "POW": 1, "PRELU": 1, "QUANTIZE": 2,
    "RANGE": 1, "RANK": 1, "READ_VARIABLE": 1, "REAL": 1, "REDUCE_ALL": 1, "REDUCE_ANY": 1,
    "REDUCE_MAX": 3, "REDUCE_MIN": 3, "REDUCE_PROD": 2, "RELU": 3, "RELU6": 3, "RELU_N1_TO_1": 1,
    "RESHAPE": 1, "RESIZE_BILINEAR": 4, "RESIZE_NEAREST_NEIGHBOR": 4, "REVERSE_SEQUENCE": 1,
    "REVERSE_V2": 3, "RFFT2D": 1, "RNN": 3, "ROUND": 1, "RSQRT": 2, "SCATTER_ND": 1, "SEGMENT_SUM": 1,
    "SELECT": 2, "SELECT_V2": 1, "SHAPE": 1, "SIN": 1, "SKIP_GRAM": 1, "SLICE": 5, "SOFTMAX": 3,
    "SPACE_TO_BATCH_ND": 3, "SPACE_TO_DEPTH": 2, "SPARSE_TO_DENSE": 3, "SPLIT": 4, "SPLIT_V": 2,
    "SQRT": 1, "SQUARE": 1, "SQUARED_DIFFERENCE": 2, "SQUEEZE": 2, "STRIDED_SLICE": 6, "SUB": 5,
    "SUM": 2, "SVDF": 4, "TANH": 3, "TILE": 2, "TOPK_V2": 2, "TRANSPOSE": 5, "TRANSPOSE_CONV": 3,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": 3, "UNIDIRECTIONAL_SEQUENCE_RNN": 3, "UNIQUE": 1, "UNPACK": 4,
    "VAR_HANDLE": 1, "WHERE": 1, "WHILE": 1, "ZEROS_LIKE": 1,
}

#: what to change when an op is not on Coral's list (the Keras layer users usually wrote)
ALTERNATIVES: dict[str, str] = {
    "LEAKY_RELU": "replace LeakyReLU with ReLU (or PReLU with shared_axes=[1, 2], mapped from runtime 13)",
    "GELU": "replace GELU (tf.nn.gelu / erf) with ReLU or ReLU6",
    "HARD_SWISH": "replace hard-swish with ReLU6 (as the MobileNet-EdgeTPU models do)",
    "ELU": "replace ELU with ReLU",
    "EXP": "move the exponential out of the model (apply it on the CPU after the Edge TPU part)",
    "ABS": "replace abs(x) with relu(x) + relu(-x) or restructure to avoid it",
    "SQUARE": "use x * x (MUL)",
    "SQRT": "restructure to avoid the square root, or use RSQRT (runtime 14)",
    "DIV": "multiply by a constant reciprocal (MUL)",
    "BATCH_MATMUL": "use a Dense layer (FULLY_CONNECTED with constant weights)",
    "GATHER": "slice with constant indices (SLICE / STRIDED_SLICE), or gather on the CPU",
    "ARG_MAX": "drop the argmax from the model and take it on the CPU after inference",
    "ARG_MIN": "drop the argmin from the model and take it on the CPU after inference",
    "SPLIT_V": "split into equal parts (SPLIT)",
    "PADV2": "pad with zeros (PAD)",
    "MIRROR_PAD": "pad with zeros (PAD)",
    "FLOOR": "remove the rounding (or do it on the CPU after inference)",
    "CAST": "keep the whole graph in 8-bit: remove the cast",
    "LOG_SOFTMAX": "use SOFTMAX (and take the log on the CPU if needed)",
    "TILE": "replace the tile with CONCATENATION of the same tensor",
    "DEPTH_TO_SPACE": "use RESIZE_NEAREST_NEIGHBOR or a transposed convolution instead",
    "SHAPE": ("fix the batch size (tf.keras.Input(shape, batch_size=1)) so the converter folds the shape "
              "computation of Reshape/Flatten into a constant"),
    "SPACE_TO_BATCH_ND": "dilated convolutions appear as SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND; use dilation 1",
    "BATCH_TO_SPACE_ND": "dilated convolutions appear as SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND; use dilation 1",
}


def support(name: str) -> OpSupport | None:
    """The table row of builtin operator ``name``, or None when Coral does not list it."""
    return SUPPORTED.get(name)


def parseable(name: str, version: int, builtin: bool = True) -> bool:
    """Whether edgetpu_compiler 16.0 can read ``name`` at ``version`` (custom ops always parse)."""
    if not builtin:
        return True
    top = COMPILER_MAX_OP_VERSION.get(name)
    return top is not None and version <= top


def runtime_for_compiler(compiler_version: str) -> int | None:
    """The runtime version a compiler (e.g. ``"16.0.384591198"``) targets by default."""
    parts = compiler_version.split(".")
    for n in (2, 1):
        key = ".".join(parts[:n])
        if key in COMPILER_RUNTIME_VERSION:
            return COMPILER_RUNTIME_VERSION[key]
    return None
