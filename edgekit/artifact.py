"""Artifacts (one converted model file per variant) and the manifest that lists them.

The manifest (``manifest.json``) is the contract between ``convert`` and every later
stage: paths in it are relative to the manifest's folder so the folder can be moved.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Optional

from .errors import ConfigError
from .jsonio import read_json, write_json

Variant = Literal["fp32", "fp16", "dynamic", "int8", "int16x8", "edgetpu", "tflite"]
#: variants the converter produces, in the order they are converted and shown
VARIANTS: tuple[str, ...] = ("fp32", "fp16", "dynamic", "int8", "int16x8")
#: variants that need a representative dataset
CALIBRATED_VARIANTS: frozenset[str] = frozenset({"int8", "int16x8"})
#: every variant ``convert`` can make: the converter's own, then the Edge TPU compilation of int8
ALL_VARIANTS: tuple[str, ...] = (*VARIANTS, "edgetpu")
#: variants that need calibration data (edgetpu compiles a calibrated int8 model)
NEEDS_CALIBRATION: frozenset[str] = CALIBRATED_VARIANTS | {"edgetpu"}


@dataclass(frozen=True)
class TensorSpec:
    """An input or output tensor of a model."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: Optional[float] = None
    zero_point: Optional[int] = None
    dynamic_dims: tuple[int, ...] = ()  # indices of dims that are -1 in shape_signature

    @property
    def quantized(self) -> bool:
        return self.scale is not None and self.scale != 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["dynamic_dims"] = list(self.dynamic_dims)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TensorSpec":
        return cls(
            name=d["name"], shape=tuple(d["shape"]), dtype=d["dtype"], scale=d.get("scale"),
            zero_point=d.get("zero_point"), dynamic_dims=tuple(d.get("dynamic_dims", ())),
        )


@dataclass(frozen=True)
class OpInfo:
    """One operator code of a model: its name, version, and how many nodes use it."""

    name: str
    version: int
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OpInfo":
        return cls(name=d["name"], version=int(d["version"]), count=int(d["count"]))


@dataclass(frozen=True)
class Fidelity:
    """How closely a variant's outputs follow the fp32 reference on held-back samples."""

    samples: int
    max_abs_error: float
    mean_abs_error: float
    cosine: float
    top1_agreement: Optional[float]  # None when the output is not a class vector

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Fidelity":
        return cls(**d)


@dataclass(frozen=True)
class Artifact:
    """A converted model file and everything known about it."""

    path: Path
    sha256: str
    size_bytes: int
    variant: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    ops: tuple[OpInfo, ...]
    source: str = ""                     # the model it came from (path or "<keras model>")
    source_sha256: str = ""
    converter: str = ""                  # e.g. "tensorflow 2.21.0 TFLiteConverter"
    tensorflow_version: str = ""
    min_runtime_version: str = ""        # from the model's metadata, when present
    conversion_seconds: float = 0.0
    fidelity: Optional[Fidelity] = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"edgetpu": {...}}

    @property
    def name(self) -> str:
        return self.path.stem

    def op_versions(self) -> dict[str, int]:
        """The highest version used of each operator."""
        out: dict[str, int] = {}
        for op in self.ops:
            out[op.name] = max(out.get(op.name, 0), op.version)
        return out

    def to_dict(self, relative_to: Optional[Path] = None) -> dict[str, Any]:
        path = self.path
        if relative_to is not None:
            try:
                path = self.path.resolve().relative_to(relative_to.resolve())
            except ValueError:
                path = self.path.resolve()
        return {
            "file": str(path),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "variant": self.variant,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "ops": [o.to_dict() for o in self.ops],
            "source": self.source,
            "source_sha256": self.source_sha256,
            "converter": self.converter,
            "tensorflow_version": self.tensorflow_version,
            "min_runtime_version": self.min_runtime_version,
            "conversion_seconds": round(self.conversion_seconds, 4),
            "fidelity": self.fidelity.to_dict() if self.fidelity else None,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: Optional[Path] = None) -> "Artifact":
        path = Path(d["file"])
        if base is not None and not path.is_absolute():
            path = base / path
        fid = d.get("fidelity")
        return cls(
            path=path, sha256=d["sha256"], size_bytes=int(d["size_bytes"]), variant=d["variant"],
            inputs=tuple(TensorSpec.from_dict(t) for t in d.get("inputs", [])),
            outputs=tuple(TensorSpec.from_dict(t) for t in d.get("outputs", [])),
            ops=tuple(OpInfo.from_dict(o) for o in d.get("ops", [])),
            source=d.get("source", ""), source_sha256=d.get("source_sha256", ""),
            converter=d.get("converter", ""), tensorflow_version=d.get("tensorflow_version", ""),
            min_runtime_version=d.get("min_runtime_version", ""),
            conversion_seconds=float(d.get("conversion_seconds", 0.0)),
            fidelity=Fidelity.from_dict(fid) if fid else None, extra=dict(d.get("extra") or {}),
        )

    def with_(self, **changes: Any) -> "Artifact":
        return replace(self, **changes)


@dataclass(frozen=True)
class VariantFailure:
    """A variant that did not convert, and why (kept in the manifest; others still convert)."""

    variant: str
    error: str
    hint: str = ""


@dataclass(frozen=True)
class Manifest:
    """What ``convert`` wrote: one artifact per variant, plus what failed."""

    path: Path
    model: str
    model_sha256: str
    artifacts: tuple[Artifact, ...]
    failures: tuple[VariantFailure, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    @property
    def folder(self) -> Path:
        return self.path.parent

    def get(self, variant: str) -> Artifact:
        for a in self.artifacts:
            if a.variant == variant:
                return a
        have = ", ".join(a.variant for a in self.artifacts) or "none"
        raise ConfigError(f"manifest '{self.path}' has no variant '{variant}' (it has: {have})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "edgekit.manifest",
            "model": self.model,
            "model_sha256": self.model_sha256,
            "created": self.created,
            "options": self.options,
            "artifacts": [a.to_dict(relative_to=self.folder) for a in self.artifacts],
            "failures": [asdict(f) for f in self.failures],
        }

    def save(self) -> Path:
        return write_json(self.path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        doc = read_json(path, what="manifest")
        if doc.get("kind") != "edgekit.manifest":
            raise ConfigError(
                f"'{path}' is not an edgekit manifest (no \"kind\": \"edgekit.manifest\")",
                hint="pass the manifest.json written by `edgekit convert`",
            )
        base = path.parent
        return cls(
            path=path, model=doc.get("model", ""), model_sha256=doc.get("model_sha256", ""),
            artifacts=tuple(Artifact.from_dict(a, base) for a in doc.get("artifacts", [])),
            failures=tuple(VariantFailure(**f) for f in doc.get("failures", [])),
            options=dict(doc.get("options") or {}), created=doc.get("created", ""),
        )


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()
