"""Parse what ``edgetpu_compiler`` prints and the ``NAME_edgetpu.log`` it writes.

The formats are in ``shared/formats/README.md`` (stdout with ``-s``, the operator table, the
failure lines). Parsing is tolerant: a line the parser does not know is skipped, a field that
is missing stays None, so a newer compiler that adds lines still parses.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

_UNITS = {"B": 1, "KIB": 1024, "MIB": 1024 ** 2, "GIB": 1024 ** 3, "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]i?B|B)\s*$", re.IGNORECASE)
_VERSION = re.compile(r"Edge TPU Compiler version\s+(\S+)")
_ROW = re.compile(r"^([A-Za-z][A-Za-z0-9_\-]*)\s+(\d+)\s+(\S.*?)\s*$")
_UNPARSEABLE = re.compile(r"Didn't find op for builtin opcode '([^']+)' version '(\d+)'")
_FIELDS = {
    "Input model": "input_model",
    "Output model": "output_model",
    "Operation log": "log_file",
    "Input": "input_model",       # the .log's header
    "Output": "output_model",
}
_SIZES = {
    "Input size": "input_size",
    "Output size": "output_size",
    "On-chip memory used for caching model parameters": "on_chip_bytes",
    "On-chip memory remaining for caching model parameters": "on_chip_remaining_bytes",
    "Off-chip memory used for streaming uncached model parameters": "off_chip_bytes",
}
_COUNTS = {
    "Number of Edge TPU subgraphs": "subgraphs",
    "Total number of operations": "total_ops",
    "Number of operations that will run on Edge TPU": "ops_on_tpu",
    "Number of operations that will run on CPU": "ops_on_cpu",
}

ERROR_KINDS = ("internal", "large_activations", "unparseable", "timeout", "failed")


@dataclass(frozen=True)
class OpStatus:
    """One line of the compiler's operator table."""

    operator: str
    count: int
    status: str


@dataclass(frozen=True)
class CompilerReport:
    """Everything read from one run of the compiler (stdout, and the log when given)."""

    compiler_version: str = ""
    success: bool = False
    compile_ms: Optional[int] = None
    input_model: str = ""
    output_model: str = ""
    log_file: str = ""
    input_size: Optional[int] = None
    output_size: Optional[int] = None
    on_chip_bytes: Optional[int] = None
    on_chip_remaining_bytes: Optional[int] = None
    off_chip_bytes: Optional[int] = None
    subgraphs: Optional[int] = None
    total_ops: Optional[int] = None
    ops_on_tpu: Optional[int] = None
    ops_on_cpu: Optional[int] = None
    op_status: tuple[OpStatus, ...] = field(default=())
    error_kind: str = ""          # "" or one of ERROR_KINDS
    error: str = ""               # the compiler's own words for the failure

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["op_status"] = [asdict(o) for o in self.op_status]
        return d


def parse_size(text: str) -> int:
    """``"1.30MiB"`` → 1363149; ``"0.00B"`` → 0; ``"512.00KiB"`` → 524288 (bytes, rounded).

    Raises:
        ValueError: the text is not a size the compiler prints.
    """
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    return int(round(float(m.group(1)) * _UNITS[m.group(2).upper()]))


def parse_op_table(text: str) -> tuple[OpStatus, ...]:
    """The rows under the ``Operator  Count  Status`` header (stdout with ``-s``, or the .log)."""
    rows: list[OpStatus] = []
    in_table = False
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"^Operator\s+Count\s+Status$", stripped):
            in_table = True
            continue
        if not in_table or not stripped:
            continue
        m = _ROW.match(stripped)
        if m is None:
            in_table = False   # the table ended (e.g. "Compilation child process completed …")
            continue
        rows.append(OpStatus(m.group(1), int(m.group(2)), m.group(3)))
    return tuple(rows)


def parse_stdout(text: str, log_text: str = "") -> CompilerReport:
    """Parse the compiler's stdout (and its .log, for the operator table when stdout lacks it)."""
    values: dict[str, Any] = {}
    m = _VERSION.search(text) or _VERSION.search(log_text)
    values["compiler_version"] = m.group(1) if m else ""
    m = re.search(r"Model compiled successfully in (\d+) ms", text)
    values["compile_ms"] = int(m.group(1)) if m else None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key in _FIELDS and key not in ("Input", "Output"):
            values[_FIELDS[key]] = value
        elif key in _SIZES:
            try:
                values[_SIZES[key]] = parse_size(value)
            except ValueError:
                pass
        elif key in _COUNTS and value.isdigit():
            values[_COUNTS[key]] = int(value)
    rows = parse_op_table(text) or parse_op_table(log_text)
    values["op_status"] = rows
    total = values.get("total_ops")
    if total is not None:
        if values.get("ops_on_tpu") is None and values.get("ops_on_cpu") is not None:
            values["ops_on_tpu"] = total - values["ops_on_cpu"]
        if values.get("ops_on_cpu") is None:
            if values.get("ops_on_tpu") is not None:
                values["ops_on_cpu"] = total - values["ops_on_tpu"]
            elif "not all operations are supported" not in text:
                values["ops_on_tpu"], values["ops_on_cpu"] = total, 0   # everything mapped
    if rows and values.get("ops_on_tpu") is None:
        values["ops_on_tpu"] = sum(r.count for r in rows if r.status == "Mapped to Edge TPU")
        values["ops_on_cpu"] = sum(r.count for r in rows) - values["ops_on_tpu"]
    kind, error = _failure(text)
    values["error_kind"], values["error"] = kind, error
    values["success"] = not kind and values["compile_ms"] is not None
    return CompilerReport(**values)


def parse_log(text: str) -> CompilerReport:
    """Parse a ``NAME_edgetpu.log`` on its own (version, input/output names, operator table)."""
    values: dict[str, Any] = {}
    m = _VERSION.search(text)
    values["compiler_version"] = m.group(1) if m else ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("Input", "Output"):
            values[_FIELDS[key.strip()]] = value.strip()
    rows = parse_op_table(text)
    mapped = sum(r.count for r in rows if r.status == "Mapped to Edge TPU")
    return CompilerReport(op_status=rows, ops_on_tpu=mapped if rows else None,
                          ops_on_cpu=sum(r.count for r in rows) - mapped if rows else None,
                          total_ops=sum(r.count for r in rows) if rows else None, success=bool(rows), **values)


def _failure(text: str) -> tuple[str, str]:
    """The kind of failure and the compiler's words for it, or ("", "")."""
    if "Internal compiler error" in text:
        return "internal", _line_with(text, "Internal compiler error")
    if "large activation tensors" in text:
        return "large_activations", _line_with(text, "large activation tensors")
    m = _UNPARSEABLE.search(text)
    if m or "Model could not be parsed" in text:
        words = _line_with(text, "Didn't find op") if m else _line_with(text, "Model could not be parsed")
        return "unparseable", words.removeprefix("ERROR: ")
    for line in text.splitlines():
        if line.partition(":")[0].strip() in _FIELDS:   # "Output model: /x/timeout_test/…" is a path
            continue
        low = line.lower()
        if "timed out" in low or ("timeout" in low and "compil" in low and "timeout timer" not in low
                                  and "within timeout period" not in low):
            return "timeout", line.strip()
    for line in text.splitlines():
        if line.strip().startswith("Compilation failed") or line.strip().startswith("ERROR:"):
            return "failed", line.strip()
    return "", ""


def _line_with(text: str, needle: str) -> str:
    for line in text.splitlines():
        if needle in line:
            return line.strip()
    return needle


def unparseable_op(text: str) -> Optional[tuple[str, int]]:
    """``(op, version)`` from "Didn't find op for builtin opcode 'X' version 'N'", if present."""
    m = _UNPARSEABLE.search(text)
    return (m.group(1), int(m.group(2))) if m else None
