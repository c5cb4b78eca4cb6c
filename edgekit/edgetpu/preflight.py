"""Predict, without any Coral software, what ``edgetpu_compiler`` will map to the Edge TPU.

The prediction walks the main subgraph in execution order, applies the model requirements to
each operator (:mod:`edgekit.edgetpu.rules`), then cuts the graph the way the compiler does:
without ``-a`` (``--enable_multiple_subgraphs``) the Edge TPU part ends at the first operator it
cannot map and every later operator runs on the CPU, reported as "More than one subgraph is not
supported". Operators that cannot be mapped *before* the first mappable one (a float→int8
QUANTIZE at the input, say) run on the CPU ahead of the Edge TPU part and do not end it.

Known gaps (the compiler decides these by itself): RESIZE_* ops it keeps on the CPU to avoid a
loss of precision, large RESHAPEs, activations too large for the chip ("Compilation failed due to
large activation tensors"), and the on-chip/off-chip parameter split.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from ..errors import ConfigError
from ..tflite.model_file import ModelFile, read_model
from . import ops as table
from .rules import ConstantData, Finding, judge

log = logging.getLogger(__name__)

VERDICTS = ("full", "partial", "none")


@dataclass(frozen=True)
class OpVerdict:
    """The predicted fate of one operator of the main subgraph."""

    index: int
    name: str
    version: int
    status: str           # the compiler's status text
    reason: str           # why, in edgekit's words ("" when mapped)
    on_tpu: bool

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "version": self.version, "status": self.status,
                "reason": self.reason, "on_tpu": self.on_tpu}


@dataclass(frozen=True)
class StatusRow:
    """One line of the compiler-style table: operator, count, status (and edgekit's reason)."""

    operator: str
    count: int
    status: str
    reason: str = ""


@dataclass(frozen=True)
class PreflightResult:
    """The predicted mapping of a model onto the Edge TPU."""

    model: Path
    verdict: str                              # full | partial | none
    ops: tuple[OpVerdict, ...]
    leaves_tpu_at: Optional[OpVerdict]        # the op where the Edge TPU part ends (None: it runs to the end)
    blockers: tuple[str, ...]                 # why the compiler would refuse the whole model
    suggestions: tuple[str, ...]              # what to change
    runtime_version: int                      # the Edge TPU runtime the compile targets (-m)
    all_subgraphs: bool                       # predicted for ``-a``
    subgraphs: int                            # predicted number of Edge TPU subgraphs
    notes: tuple[str, ...] = field(default=())

    @property
    def ops_on_tpu(self) -> int:
        return sum(1 for o in self.ops if o.on_tpu)

    @property
    def ops_on_cpu(self) -> int:
        return len(self.ops) - self.ops_on_tpu

    @property
    def first_cpu_op(self) -> Optional[OpVerdict]:
        return next((o for o in self.ops if not o.on_tpu), None)

    def rows(self) -> list[StatusRow]:
        """Operators grouped like the compiler's table (operator, status), in first-seen order."""
        counts: Counter[tuple[str, str, str]] = Counter()
        order: list[tuple[str, str, str]] = []
        for o in self.ops:
            key = (o.name, o.status, o.reason)
            if key not in counts:
                order.append(key)
            counts[key] += 1
        return [StatusRow(n, counts[(n, s, r)], s, r) for n, s, r in order]

    def summary(self) -> str:
        """One line: the verdict, the counts and where the graph leaves the Edge TPU."""
        total = len(self.ops)
        if self.blockers:
            return f"edgetpu preflight '{self.model.name}': none — {self.blockers[0]}"
        text = f"edgetpu preflight '{self.model.name}': {self.verdict} — {self.ops_on_tpu} of {total} ops on the Edge TPU"
        if self.leaves_tpu_at is not None:
            o = self.leaves_tpu_at
            text += f"; leaves the Edge TPU at op #{o.index} {o.name} ({o.reason or o.status})"
        elif self.verdict != "full" and self.first_cpu_op is not None:
            o = self.first_cpu_op
            text += f"; op #{o.index} {o.name} runs on the CPU ({o.reason or o.status})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.model),
            "verdict": self.verdict,
            "ops_on_tpu": self.ops_on_tpu,
            "ops_on_cpu": self.ops_on_cpu,
            "subgraphs": self.subgraphs,
            "leaves_tpu_at": self.leaves_tpu_at.to_dict() if self.leaves_tpu_at else None,
            "blockers": list(self.blockers),
            "suggestions": list(self.suggestions),
            "runtime_version": self.runtime_version,
            "all_subgraphs": self.all_subgraphs,
            "operators": [{"operator": r.operator, "count": r.count, "status": r.status, "reason": r.reason}
                          for r in self.rows()],
            "ops": [o.to_dict() for o in self.ops],
            "notes": list(self.notes),
            "predicted_for": f"edgetpu_compiler {table.COMPILER_VERSION}",
        }


def edgetpu_check(model: str | Path | ModelFile, *, min_runtime_version: Optional[int] = None,
                  all_subgraphs: bool = False) -> PreflightResult:
    """Predict how ``edgetpu_compiler`` maps ``model`` (a full-integer ``.tflite``).

    Args:
        model: the int8/uint8 ``.tflite`` file (or its parsed :class:`ModelFile`).
        min_runtime_version: the Edge TPU runtime the compile targets (``-m``); default: the
            one compiler 16.0 targets (14).
        all_subgraphs: predict a compile with ``-a`` (every mappable op in its own Edge TPU
            segment) instead of one segment that ends at the first unmappable op.

    Raises:
        ConfigError: the file is missing or not a ``.tflite``, it is already compiled for the
            Edge TPU, or ``min_runtime_version`` is not a runtime version.
    """
    mf = model if isinstance(model, ModelFile) else read_model(model)
    runtime = table.DEFAULT_RUNTIME_VERSION if min_runtime_version is None else int(min_runtime_version)
    if runtime < table.FIRST_RUNTIME_VERSION:
        raise ConfigError(f"Edge TPU runtime version {runtime} does not exist (the first is {table.FIRST_RUNTIME_VERSION})",
                          hint="pass the runtime of the device, e.g. -m 13 (check it with pycoral's get_runtime_version())")
    if mf.is_edgetpu:
        raise ConfigError(f"'{mf.path}' is already compiled for the Edge TPU (it has an edgetpu-custom-op)",
                          hint="run the check on the int8 model it was compiled from")
    consts = ConstantData(mf.path)
    findings = [judge(op, consts, runtime) for op in mf.operators]
    verdicts, cut, subgraphs = _segment(mf, findings, all_subgraphs)
    blockers = tuple(dict.fromkeys([*_input_blockers(mf), *(f.blocker for f in findings if f.blocker)]))
    if blockers:  # no usable Edge TPU model comes out: nothing runs on the Edge TPU
        verdicts = [replace(v, on_tpu=False, reason=v.reason or "would map, but the model as a whole cannot be "
                            "compiled (see the blockers)") for v in verdicts]
        cut, subgraphs = None, 0
    mapped = sum(1 for v in verdicts if v.on_tpu)
    if mapped == len(verdicts) and verdicts:
        verdict = "full"
    elif mapped == 0:
        verdict = "none"
    else:
        verdict = "partial"
    notes = _notes(mf)
    result = PreflightResult(
        model=mf.path, verdict=verdict, ops=tuple(verdicts), leaves_tpu_at=cut, blockers=blockers,
        suggestions=(), runtime_version=runtime, all_subgraphs=all_subgraphs,
        subgraphs=subgraphs, notes=notes,
    )
    result = _with_suggestions(result, mf, findings)
    log.info("%s", result.summary())
    return result


def _segment(mf: ModelFile, findings: list[Finding],
             all_subgraphs: bool) -> tuple[list[OpVerdict], Optional[OpVerdict], int]:
    verdicts: list[OpVerdict] = []
    cut: Optional[OpVerdict] = None
    started = False
    subgraphs = 0
    previous_on_tpu = False
    for op, f in zip(mf.operators, findings):
        status, reason, on_tpu = f.status, f.reason, f.mappable
        if on_tpu and cut is not None and not all_subgraphs:
            status, on_tpu = table.AFTER_CUT, False
            reason = f"runs on the CPU: the Edge TPU part ended at op #{cut.index} {cut.name}"
        v = OpVerdict(op.index, op.name, op.version, status, reason, on_tpu)
        if on_tpu:
            started = True
            if not previous_on_tpu:
                subgraphs += 1
        elif started and cut is None:
            cut = v
        previous_on_tpu = on_tpu
        verdicts.append(v)
    return verdicts, cut, subgraphs


def _input_blockers(mf: ModelFile) -> list[str]:
    out = []
    for t in mf.inputs:
        dims = [i for i, d in enumerate(t.shape_signature) if d < 0 and i > 0]
        if dims:
            out.append(f"input '{t.name}' has dynamic dimension(s) {dims} (shape signature {list(t.shape_signature)}): "
                       f"the Edge TPU needs sizes that are constant at compile time, and the shape in the file "
                       f"{list(t.shape)} is only the converter's placeholder")
    return out


def _notes(mf: ModelFile) -> tuple[str, ...]:
    notes = []
    if any(t.shape_signature and t.shape_signature[0] < 0 for t in mf.inputs):
        notes.append("the batch dimension is dynamic in the shape signature but 1 in the shape: the compiler "
                     "uses the shape, so this is fine (TFLiteConverter writes every Keras model this way)")
    if mf.subgraph_count > 1:
        notes.append(f"the model has {mf.subgraph_count} subgraphs (control flow); only the main one is mapped")
    if any(o.name in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR") for o in mf.operators):
        notes.append("the compiler may keep RESIZE ops on the CPU to avoid a loss of precision: only the real "
                     "compiler can tell")
    return tuple(notes)


def _with_suggestions(result: PreflightResult, mf: ModelFile, findings: list[Finding]) -> PreflightResult:
    out: dict[str, str] = {}   # kind -> what to change; the first op of each kind words it
    io_names = {t.name for t in mf.inputs} | {t.name for t in mf.outputs}
    float_io = any(t.dtype.startswith("float") for t in mf.inputs + mf.outputs)
    for op, f in zip(mf.operators, findings):
        if f.mappable:
            continue
        alt = table.ALTERNATIVES.get(op.name)
        touches_io = any(t.name in io_names for t in list(op.inputs) + list(op.outputs))
        if f.blocker:
            out.setdefault(f"version:{op.name}", (
                f"{alt}, or convert with an older TensorFlow (≤ 2.6 op versions) so the compiler can read {op.name}"
                if alt else f"remove {op.name} v{op.version} or convert with an older TensorFlow (≤ 2.6 op versions)"))
        elif f.status == table.UNSUPPORTED_DTYPE and float_io and touches_io:
            out.setdefault("io", "quantize the inputs and outputs too: convert with --io-dtype uint8 (or int8) so "
                                 "the model starts and ends in 8-bit")
        elif f.status == table.UNSUPPORTED_DTYPE and any(t.dtype == "int16" for t in list(op.inputs) + list(op.outputs)):
            out.setdefault("int16", "int16x8 models cannot run on the Edge TPU: compile the int8 variant")
        elif f.status == table.UNSUPPORTED_DTYPE:
            out.setdefault("float", "quantize the whole model to 8-bit (full-integer post-training quantization with "
                                    "calibration data, or quantization-aware training): the first float op, "
                                    f"#{op.index} {op.name}, cuts the graph")
        elif f.status == table.NOT_SUPPORTED and "runtime" in f.reason:
            out.setdefault(f"runtime:{op.name}", f"{op.name} needs a newer Edge TPU runtime than "
                           f"{result.runtime_version}: compile with a higher -m if the device's libedgetpu allows it")
        elif f.status == table.NOT_SUPPORTED:
            out.setdefault(f"op:{op.name}", alt or f"replace {op.name} with operations on Coral's list, or move it "
                           "to the end of the model so only the tail runs on the CPU")
        elif "dynamic" in f.reason:
            out.setdefault("dynamic", "fix the input size: build the model with a static input shape (e.g. "
                                      "tf.keras.Input((224, 224, 3))) or convert from a concrete function with a "
                                      "fixed TensorSpec, and keep the batch size 1")
        elif f.status == table.UNSUPPORTED_RANK:
            out.setdefault("rank", f"keep at most 3 non-unit innermost dimensions (op #{op.index} {op.name}); "
                                   "use batch size 1")
        else:
            out.setdefault(f"limit:{op.index}", f"op #{op.index} {op.name}: {f.reason}")
    if result.verdict == "partial" and not result.all_subgraphs and result.leaves_tpu_at is not None:
        later = sum(1 for o in result.ops if o.status == table.AFTER_CUT)
        if later:
            out["-a"] = (f"or compile with -a (--enable_multiple_subgraphs) to map the {later} supported op(s) after "
                         "the cut into more Edge TPU segments (each CPU/TPU switch costs a transfer)")
    return replace(result, suggestions=tuple(out.values()))
