"""Can the device's runtime load this model? Checked before anything is pushed.

Every builtin operator in a ``.tflite`` file carries a version; a runtime older than the
version's introduction refuses the model at load time ("Didn't find op for builtin opcode
'FULLY_CONNECTED' version '12'"). :data:`OP_MIN_RUNTIME` (transcribed from TFLite's own
``runtime_version.cc``) says which runtime release introduced each operator version, so
edgekit can refuse up front, with the reason and the fix, instead of failing on the device.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Optional

from ..errors import RuntimeIncompatible
from ..tflite.model_file import ModelFile
from .op_runtime_versions import OP_MIN_RUNTIME, SOURCE

log = logging.getLogger(__name__)

__all__ = [
    "Incompatibility", "check_compatible", "core_version", "min_runtime_for", "parse_version",
    "raise_if_incompatible", "incompatibility_from_error", "EDGETPU_MISMATCH",
]

#: LiteRT wheel releases → the TFLite core release they include at least (conservative:
#: the TensorFlow release whose op versions the wheel's kernels are known to cover).
_LITERT_CORE = (
    ((2, 0), (2, 20, 0)),
    ((1, 4), (2, 20, 0)),
    ((1, 2), (2, 19, 0)),
    ((1, 0), (2, 18, 0)),
)

#: the runtime's text when an EdgeTPU model is newer than the device's libedgetpu
EDGETPU_MISMATCH = re.compile(r"Package requires runtime version \((\d+)\), which is newer than "
                              r"this runtime version \((\d+)\)")
_OP_MISSING = re.compile(r"Didn't find op for builtin opcode '([A-Z0-9_]+)' version '(\d+)'")


@dataclass(frozen=True)
class Incompatibility:
    """One operator version the device's runtime cannot run."""

    op: str
    version: int
    needs: str             # the minimum runtime release ("2.17.0"), "" when unknown
    runtime: str           # e.g. "tflite_runtime"
    runtime_version: str   # e.g. "2.14.0"

    @property
    def reason(self) -> str:
        needs = f"TFLite runtime >= {self.needs}" if self.needs else "a runtime newer than edgekit's table knows"
        return f"{self.op} v{self.version} needs {needs}; the device has {self.runtime} {self.runtime_version}"

    def __str__(self) -> str:
        return self.reason


def parse_version(text: str) -> Optional[tuple[int, ...]]:
    """``"2.14.0"`` → ``(2, 14, 0)``; ``"2.5.0.post1"`` → ``(2, 5, 0)``; junk → None."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", text or "")
    if not m:
        return None
    parts = tuple(int(p) for p in m.group(1).split("."))
    return parts + (0,) * (3 - len(parts)) if len(parts) < 3 else parts


def core_version(runtime: str, version: str) -> Optional[tuple[int, ...]]:
    """The TFLite core release a runtime package corresponds to (None when unknown).

    ``tflite_runtime``, ``tensorflow`` and ``tflite`` (a ``benchmark_model`` built from a TF
    release) use TensorFlow's numbering; ``ai_edge_litert`` / ``litert`` restarted at 1.0
    and are mapped to the TensorFlow release they at least include.
    """
    parsed = parse_version(version)
    if parsed is None:
        return None
    name = runtime.lower().replace("-", "_")
    if name in ("ai_edge_litert", "litert", "benchmark_litert_model"):
        for (major, minor), core in _LITERT_CORE:
            if parsed[:2] >= (major, minor):
                return core
        return None
    return parsed


def min_runtime_for(op: str, version: int) -> Optional[str]:
    """The runtime release that introduced ``op`` version ``version`` ("" if newer than the table).

    Returns None for operators the table does not list at all (custom ops such as the
    EdgeTPU's), which this check cannot judge.
    """
    versions = OP_MIN_RUNTIME.get(op)
    if versions is None:
        return None
    if version in versions:
        return versions[version]
    if version > max(versions):
        return ""
    return None  # a gap in the table (e.g. BROADCAST_TO v1): nothing to say


def check_compatible(model_file: ModelFile, runtime_name: str, runtime_version: str) -> list[Incompatibility]:
    """The operator versions of ``model_file`` that ``runtime_name runtime_version`` cannot load.

    An unknown runtime or version yields no incompatibilities (nothing to compare against);
    the runner still reports a load failure precisely if the model does not load.
    """
    core = core_version(runtime_name, runtime_version)
    if core is None:
        log.debug("runtime %r %r unknown: skipping the op-version check", runtime_name, runtime_version)
        return []
    out: list[Incompatibility] = []
    for op, version in sorted(model_file.op_versions().items()):
        needs = min_runtime_for(op, version)
        if needs is None:
            continue
        if needs == "" or (parse_version(needs) or (0,)) > core:
            out.append(Incompatibility(op, version, needs, runtime_name, runtime_version))
    return out


def fix_hint(problems: list[Incompatibility]) -> str:
    """What the user can do about ``problems`` (both ways round)."""
    hints = []
    if any(p.op == "FULLY_CONNECTED" and p.version in (12, 13) for p in problems):
        hints.append("FULLY_CONNECTED v12 comes from per-channel dynamic-range quantization: convert "
                     "with converter._experimental_disable_per_channel_quantization_for_dense_layers = True "
                     "(gives v9, runtime >= 2.3)")
    hints.append("or convert with a TensorFlow no newer than the device's runtime")
    hints.append("or upgrade the device's runtime (pip install -U ai-edge-litert, or a newer "
                 "tflite-runtime / benchmark_model build, where the board's Python allows)")
    return "; ".join(hints)


def raise_if_incompatible(model_file: ModelFile, runtime_name: str, runtime_version: str,
                          device: str) -> None:
    """Raise :class:`RuntimeIncompatible` listing every operator the device cannot load."""
    problems = check_compatible(model_file, runtime_name, runtime_version)
    if not problems:
        return
    listing = "; ".join(p.reason for p in problems)
    raise RuntimeIncompatible(
        f"device '{device}' cannot load '{model_file.path.name}': {listing} (per {SOURCE})",
        hint=fix_hint(problems),
    )


def incompatibility_from_error(text: str, device: str, model_name: str) -> Optional[RuntimeIncompatible]:
    """Turn a runtime's load-failure text into :class:`RuntimeIncompatible`, if it is one."""
    m = _OP_MISSING.search(text or "")
    if m:
        op, version = m.group(1), int(m.group(2))
        needs = min_runtime_for(op, version)
        need_text = f" (needs TFLite runtime >= {needs})" if needs else ""
        return RuntimeIncompatible(
            f"device '{device}' cannot load '{model_name}': its runtime has no {op} v{version}{need_text}",
            hint=fix_hint([Incompatibility(op, version, needs or "", "", "")]),
        )
    m = EDGETPU_MISMATCH.search(text or "")
    if m:
        return RuntimeIncompatible(
            f"device '{device}' cannot run EdgeTPU model '{model_name}': it needs EdgeTPU runtime "
            f"{m.group(1)}, the device has {m.group(2)}",
            hint=f"recompile with `edgetpu_compiler -m {m.group(2)}`, or upgrade libedgetpu on the device",
        )
    return None
