"""Read a ``.tflite`` flatbuffer: operator codes and versions, tensors, I/O, metadata.

Uses the schema module that ships with ``ai-edge-litert`` (``schema_py_generated``), and
checks the file's structure first so a truncated or foreign file gives a clear error
instead of an IndexError from deep inside flatbuffers.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..artifact import OpInfo, TensorSpec, sha256_file
from ..errors import ConfigError

_IDENT = b"TFL3"

_TENSOR_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
    7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64",
    13: "resource", 14: "variant", 15: "uint32", 16: "uint16", 17: "int4",
}


@dataclass(frozen=True)
class TensorInfo:
    """A tensor in a subgraph."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    scale: Optional[float]
    zero_point: Optional[int]
    per_channel: bool
    is_constant: bool

    @property
    def quantized(self) -> bool:
        return self.scale is not None

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature)

    def spec(self) -> TensorSpec:
        return TensorSpec(
            name=self.name, shape=self.shape, dtype=self.dtype,
            scale=self.scale, zero_point=self.zero_point,
            dynamic_dims=tuple(i for i, d in enumerate(self.shape_signature) if d < 0),
        )


@dataclass(frozen=True)
class OperatorInfo:
    """One node of a subgraph, in execution order."""

    index: int
    name: str
    version: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    custom_code: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelFile:
    """Everything edgekit reads from a ``.tflite`` file."""

    path: Path
    size_bytes: int
    sha256: str
    schema_version: int
    description: str
    min_runtime_version: str
    operators: tuple[OperatorInfo, ...]          # main subgraph, execution order
    subgraph_count: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    op_histogram: tuple[OpInfo, ...]             # all subgraphs, by (name, version)
    metadata_names: tuple[str, ...]

    def op_versions(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self.op_histogram:
            out[op.name] = max(out.get(op.name, 0), op.version)
        return out

    @property
    def is_edgetpu(self) -> bool:
        return any(op.name == "edgetpu-custom-op" for op in self.op_histogram)


def _builtin_names() -> dict[int, str]:
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def _decode(b: Any) -> str:
    if b is None:
        return ""
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace")
    return str(b)


def _check_structure(path: Path, data: bytes) -> None:
    if len(data) < 8:
        raise ConfigError(
            f"'{path}' is {len(data)} bytes: too short to be a .tflite model",
            hint="the file is empty or truncated; convert or copy it again",
        )
    if data[4:8] != _IDENT:
        kind = "a Keras/HDF5 file" if data[:4] == b"\x89HDF" else (
            "a zip archive (a .keras file?)" if data[:2] == b"PK" else "not a TFLite flatbuffer")
        raise ConfigError(
            f"'{path}' is not a .tflite model: its file identifier is {data[4:8]!r}, not b'TFL3' ({kind})",
            hint="pass a model converted with TFLiteConverter, or convert it with `edgekit convert`",
        )
    (root,) = struct.unpack_from("<I", data, 0)
    if root >= len(data):
        raise ConfigError(
            f"'{path}' is truncated or corrupt: its root table offset {root} is past the end ({len(data)} bytes)",
            hint="copy or convert the model again",
        )


def read_model(path: str | Path) -> ModelFile:
    """Parse a ``.tflite`` file.

    Raises:
        ConfigError: the file is missing, not a TFLite flatbuffer, truncated or corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"model '{path}' does not exist", hint="check the path")
    if path.is_dir():
        raise ConfigError(f"'{path}' is a folder, not a .tflite file")
    data = path.read_bytes()
    _check_structure(path, data)
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
        parsed = _parse(path, data, model, schema)
    except ConfigError:
        raise
    except Exception as exc:  # flatbuffers raises IndexError/struct.error on bad offsets
        raise ConfigError(
            f"'{path}' is truncated or corrupt: reading its flatbuffer failed ({type(exc).__name__}: {exc})",
            hint="copy or convert the model again",
        ) from exc
    return parsed


def _parse(path: Path, data: bytes, model: Any, schema: Any) -> ModelFile:
    names = _builtin_names()
    buffers = model.buffers or []
    codes = []
    for oc in model.operatorCodes or []:
        code = max(int(oc.builtinCode or 0), int(oc.deprecatedBuiltinCode or 0))
        name = names.get(code, f"BUILTIN_{code}")
        custom = _decode(oc.customCode)
        if name == "CUSTOM" and custom:
            name = custom
        codes.append((name, int(oc.version or 1), custom))
    if not model.subgraphs:
        raise ConfigError(f"'{path}' has no subgraphs", hint="the model is empty or corrupt")

    def tensor(sg: Any, i: int) -> TensorInfo:
        t = sg.tensors[i]
        q = t.quantization
        scale = zp = None
        per_channel = False
        if q is not None and q.scale is not None and len(q.scale) > 0:
            scale = float(q.scale[0])
            zp = int(q.zeroPoint[0]) if q.zeroPoint is not None and len(q.zeroPoint) else 0
            per_channel = len(q.scale) > 1
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        sig = tuple(int(d) for d in t.shapeSignature) if t.shapeSignature is not None else shape
        buf = buffers[t.buffer] if 0 < t.buffer < len(buffers) else None
        const = bool(buf is not None and ((buf.data is not None and len(buf.data) > 0) or (buf.size or 0) > 0))
        return TensorInfo(int(i), _decode(t.name), shape, sig, _TENSOR_TYPES.get(int(t.type), f"type{t.type}"),
                          scale, zp, per_channel, const)

    hist: Counter[tuple[str, int]] = Counter()
    main_ops: list[OperatorInfo] = []
    for sgi, sg in enumerate(model.subgraphs):
        for oi, op in enumerate(sg.operators or []):
            if op.opcodeIndex >= len(codes):
                raise ConfigError(f"'{path}' is corrupt: operator {oi} uses opcode {op.opcodeIndex} of {len(codes)}")
            name, version, custom = codes[op.opcodeIndex]
            hist[(name, version)] += 1
            if sgi == 0:
                ins = tuple(tensor(sg, int(i)) for i in (op.inputs if op.inputs is not None else ()) if i >= 0)
                outs = tuple(tensor(sg, int(i)) for i in (op.outputs if op.outputs is not None else ()) if i >= 0)
                options = _options(op)
                main_ops.append(OperatorInfo(oi, name, version, ins, outs, custom, options))
    sg0 = model.subgraphs[0]
    inputs = tuple(tensor(sg0, int(i)) for i in (sg0.inputs if sg0.inputs is not None else ()))
    outputs = tuple(tensor(sg0, int(i)) for i in (sg0.outputs if sg0.outputs is not None else ()))
    meta_names = tuple(_decode(m.name) for m in (model.metadata or []))
    min_rt = ""
    for m in model.metadata or []:
        if _decode(m.name) == "min_runtime_version" and 0 <= m.buffer < len(buffers):
            raw = buffers[m.buffer].data
            if raw is not None:
                min_rt = bytes(bytearray(raw)).split(b"\x00", 1)[0].decode("ascii", "replace")
    op_hist = tuple(OpInfo(n, v, c) for (n, v), c in sorted(hist.items()))
    return ModelFile(
        path=path, size_bytes=len(data), sha256=sha256_file(path),
        schema_version=int(model.version or 0), description=_decode(model.description),
        min_runtime_version=min_rt, operators=tuple(main_ops), subgraph_count=len(model.subgraphs),
        inputs=inputs, outputs=outputs, op_histogram=op_hist, metadata_names=meta_names,
    )


def _options(op: Any) -> dict[str, Any]:
    opts = op.builtinOptions
    if opts is None:
        return {}
    out: dict[str, Any] = {}
    for k, v in vars(opts).items():
        if isinstance(v, (int, float, bool, str)):
            out[k] = v
        elif v is not None and hasattr(v, "tolist"):
            out[k] = v.tolist()
    return out
