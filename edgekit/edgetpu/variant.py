"""The ``edgetpu`` variant: preflight, compile, and describe the result as an :class:`Artifact`.

``edgekit convert --variants edgetpu`` calls :func:`make_edgetpu_variant` with the int8
artifact it just made. When the compiler is absent the preflight verdict still reaches the
user (in the ConversionError the converter records as a VariantFailure), with the install steps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from ..artifact import Artifact, sha256_file
from ..errors import ConversionError
from ..tflite.model_file import read_model
from .compiler import compiler_missing_error, edgetpu_compile, find_compiler
from .preflight import PreflightResult, edgetpu_check
from .runtime import edgetpu_packages

log = logging.getLogger(__name__)


def make_edgetpu_variant(int8_artifact: Artifact, out_dir: Path, compiler: str | None = None,
                         min_runtime_version: int | None = None) -> Artifact:
    """Compile ``int8_artifact`` for the Edge TPU into ``out_dir`` and describe the result.

    Args:
        int8_artifact: the full-integer variant (its ``path`` must exist).
        out_dir: the manifest's folder; ``NAME_edgetpu.tflite``, its ``.log`` and the compiler's
            stdout are written there.
        compiler: the ``edgetpu_compiler`` to use (default: ``$EDGEKIT_EDGETPU_COMPILER``, PATH).
        min_runtime_version: ``-m``: the oldest Edge TPU runtime the model must run on.

    Returns:
        An Artifact with variant ``"edgetpu"`` and ``extra["edgetpu"]``: the parsed compile
        (ops on the Edge TPU / CPU, per-operator status, subgraphs, on-/off-chip memory,
        compiler version, the runtime version it needs) and the preflight summary.

    Raises:
        ConversionError: no compiler (message: the preflight verdict; hint: how to install it),
            or the compiler failed (message: its words, the kept log, the preflight verdict).
        ConfigError: the int8 model is missing or not a ``.tflite``.
    """
    out_dir = Path(out_dir)
    model = Path(int8_artifact.path)
    preflight = edgetpu_check(model, min_runtime_version=min_runtime_version)
    if find_compiler(compiler) is None:
        raise compiler_missing_error(model, preflight.summary())
    try:
        result = edgetpu_compile(model, out_dir, compiler=compiler, min_runtime_version=min_runtime_version)
    except ConversionError as err:
        raise ConversionError(f"{err.message} Preflight: {preflight.summary()}", hint=err.hint) from err
    compiled = read_model(result.output_path)
    packages = edgetpu_packages(compiled)
    needs = max((p.min_runtime_version for p in packages if p.min_runtime_version is not None),
                default=result.min_runtime_version)
    extra: dict[str, Any] = {"edgetpu": {
        **result.to_dict(),
        "runtime_version": needs,
        "packages": [{"min_runtime_version": p.min_runtime_version, "compiler_version": p.compiler_version,
                      "model_identifier": p.model_identifier} for p in packages],
        "from_sha256": int8_artifact.sha256,
        "preflight": _preflight_summary(preflight),
    }}
    log.info("edgetpu: %s: %d of %d ops on the Edge TPU (%d subgraph(s)), needs runtime %s",
             result.output_path.name, result.ops_on_tpu, result.total_ops, result.subgraphs, needs)
    return Artifact(
        path=result.output_path, sha256=sha256_file(result.output_path), size_bytes=compiled.size_bytes,
        variant="edgetpu", inputs=tuple(t.spec() for t in compiled.inputs),
        outputs=tuple(t.spec() for t in compiled.outputs), ops=compiled.op_histogram,
        source=int8_artifact.source, source_sha256=int8_artifact.source_sha256,
        converter=f"edgetpu_compiler {result.compiler_version}".strip(),
        tensorflow_version=int8_artifact.tensorflow_version, min_runtime_version=compiled.min_runtime_version,
        conversion_seconds=result.seconds, fidelity=None, extra=extra,
    )


def _preflight_summary(p: PreflightResult) -> dict[str, Any]:
    d = p.to_dict()
    d.pop("ops", None)
    d["model"] = Path(d["model"]).name
    d["summary"] = p.summary()
    return d


def recorded_runtime_version(artifact: Artifact) -> Optional[int]:
    """The Edge TPU runtime version recorded in an edgetpu artifact's manifest entry, if any."""
    info = artifact.extra.get("edgetpu") or {}
    value = info.get("runtime_version", info.get("min_runtime_version"))
    return int(value) if isinstance(value, (int, float)) else None
