"""Which Edge TPU runtime a compiled model needs, and refusing a device whose runtime is older.

A compiled model carries one ``edgetpu-custom-op`` per Edge TPU segment. Its custom options
are a flexbuffer map (libedgetpu ``tflite/custom_op_data.cc``): key ``"4"`` holds the
serialized DarwiNN *Package* (``executable/executable.fbs``, file identifier ``DWN1``) whose
first field is ``min_runtime_version`` and fifth ``compiler_version``. libedgetpu refuses a
package newer than itself with "Failed precondition: Package requires runtime version (14),
which is newer than this runtime version (13)"; :func:`check_runtime` says it before the run,
with the fix: recompile with ``-m`` set to the device's version.
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import RuntimeIncompatible
from ..tflite.model_file import ModelFile

log = logging.getLogger(__name__)

CUSTOM_OP = "edgetpu-custom-op"
_PACKAGE_ID = b"DWN1"


@dataclass(frozen=True)
class EdgeTpuPackage:
    """What one edgetpu-custom-op says about itself."""

    op_index: int
    min_runtime_version: Optional[int]
    compiler_version: str
    model_identifier: str


def edgetpu_packages(model: ModelFile | str | Path) -> list[EdgeTpuPackage]:
    """The Edge TPU packages of every ``edgetpu-custom-op`` in the main subgraph (may be empty)."""
    path = model.path if isinstance(model, ModelFile) else Path(model)
    if not isinstance(model, ModelFile):
        from ..tflite.model_file import read_model

        read_model(path)  # the clear ConfigError for missing, foreign or truncated files
    from ai_edge_litert import schema_py_generated as schema

    data = path.read_bytes()
    m = schema.Model.GetRootAsModel(data, 0)
    sg = m.Subgraphs(0)
    out: list[EdgeTpuPackage] = []
    for j in range(sg.OperatorsLength()):
        op = sg.Operators(j)
        code = m.OperatorCodes(op.OpcodeIndex())
        if (code.CustomCode() or b"").decode("utf-8", "replace") != CUSTOM_OP:
            continue
        options = _custom_options(op, data)
        out.append(_package(j, options))
    return out


def required_runtime_version(model: ModelFile | str | Path, recorded: Optional[int] = None) -> Optional[int]:
    """The Edge TPU runtime version ``model`` needs, or None when it has no Edge TPU part.

    Read from the compiled model (the highest ``min_runtime_version`` of its packages). When the
    model has an edgetpu-custom-op whose package cannot be read, ``recorded`` (the ``-m`` value
    kept in the manifest, ``extra["edgetpu"]["min_runtime_version"]``) is used instead.
    """
    packages = edgetpu_packages(model)
    if not packages:
        return None
    versions = [p.min_runtime_version for p in packages if p.min_runtime_version is not None]
    if versions:
        return max(versions)
    log.warning("could not read the Edge TPU package of %s; using the recorded runtime version %s",
                model.path if isinstance(model, ModelFile) else model, recorded)
    return recorded


def check_runtime(model: ModelFile | str | Path, device_runtime_version: int, device: str,
                  recorded: Optional[int] = None) -> None:
    """Refuse to run ``model`` on ``device`` when its libedgetpu is older than the model needs.

    Args:
        model: the compiled ``*_edgetpu.tflite``.
        device_runtime_version: the device's Edge TPU runtime version (profile field
            ``edgetpu_runtime_version``, or what the device reports); 0 = unknown, not checked.
        device: the device name, for the message.
        recorded: the runtime version recorded at compile time, used if the model's package
            cannot be read.

    Raises:
        RuntimeIncompatible: the model needs a newer runtime than the device has.
    """
    need = required_runtime_version(model, recorded)
    name = model.path if isinstance(model, ModelFile) else Path(model)
    if need is None:
        return
    if not device_runtime_version:
        log.warning("device %s: Edge TPU runtime version unknown; not checking %s (needs %s)", device, name, need)
        return
    if need > device_runtime_version:
        raise RuntimeIncompatible(
            f"'{name}' needs Edge TPU runtime {need}, but device '{device}' has runtime {device_runtime_version} "
            f"(libedgetpu would fail with \"Package requires runtime version ({need}), which is newer than this "
            f"runtime version ({device_runtime_version})\")",
            hint=(f"recompile with -m {device_runtime_version}: `edgekit edgetpu compile MODEL -o OUT -m "
                  f"{device_runtime_version}` (edgetpu_compiler -m {device_runtime_version}), or update libedgetpu on "
                  "the device (apt-get install libedgetpu1-std) and its profile's edgetpu_runtime_version"),
        )


def parse_runtime_version(text: str) -> Optional[int]:
    """The runtime version in libedgetpu's version string.

    ``pycoral.utils.edgetpu.get_runtime_version()`` and ``edgetpu_version()`` return e.g.
    ``"BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted,CL_NUMBER=291256449), RuntimeVersion(14)"``.
    """
    m = re.search(r"RuntimeVersion\((\d+)\)", text)
    return int(m.group(1)) if m else None


def _custom_options(op: object, data: bytes) -> bytes:
    size = getattr(op, "LargeCustomOptionsSize", lambda: 0)()
    if size:
        offset = op.LargeCustomOptionsOffset()  # type: ignore[attr-defined]
        return data[offset: offset + size]
    if op.CustomOptionsLength() == 0:  # type: ignore[attr-defined]
        return b""
    return op.CustomOptionsAsNumpy().tobytes()  # type: ignore[attr-defined]


def _package(op_index: int, options: bytes) -> EdgeTpuPackage:
    empty = EdgeTpuPackage(op_index, None, "", "")
    if not options:
        return empty
    try:
        import flatbuffers.flexbuffers as fx

        ref = fx.GetRoot(options).AsMap["4"]
        if ref.IsBlob:
            raw = bytes(ref.AsBlob)
        elif ref.IsString:
            raw = bytes(fx.String(ref._Indirect(), ref._byte_width).Bytes)  # bytes, not UTF-8 text
        else:
            return empty
        return _read_package(op_index, raw)
    except Exception as exc:  # noqa: BLE001 - an unreadable package means "unknown", said by the caller
        log.debug("edgetpu-custom-op #%d: unreadable custom options (%s)", op_index, exc)
        return empty


def _read_package(op_index: int, raw: bytes) -> EdgeTpuPackage:
    """Read fields 0 (min_runtime_version), 4 (compiler_version) and 7 (model_identifier)."""
    if len(raw) < 8 or raw[4:8] != _PACKAGE_ID:
        return EdgeTpuPackage(op_index, None, "", "")
    (root,) = struct.unpack_from("<I", raw, 0)
    (vt_rel,) = struct.unpack_from("<i", raw, root)
    vtable = root - vt_rel
    (vt_size,) = struct.unpack_from("<H", raw, vtable)

    def field_pos(i: int) -> int:
        slot = 4 + 2 * i
        if slot >= vt_size:
            return 0
        (off,) = struct.unpack_from("<H", raw, vtable + slot)
        return root + off if off else 0

    def string(i: int) -> str:
        pos = field_pos(i)
        if not pos:
            return ""
        (rel,) = struct.unpack_from("<I", raw, pos)
        start = pos + rel
        (n,) = struct.unpack_from("<I", raw, start)
        return raw[start + 4: start + 4 + n].decode("utf-8", "replace")

    pos = field_pos(0)
    version = struct.unpack_from("<i", raw, pos)[0] if pos else 0
    return EdgeTpuPackage(op_index, version, string(4), string(7))


#: libedgetpu Debian package versions → the Edge TPU runtime version they implement (coral.ai,
#: "Compiler and runtime versions"); used when the library itself could not be asked
_PACKAGE_RUNTIME = (((16, 0), 14), ((14, 0), 13), ((13, 0), 12))

#: run with the device's Python: libedgetpu's own version string (``edgetpu_version()``, C API)
RUNTIME_PROBE = (
    "import ctypes\n"
    "lib = ctypes.CDLL('libedgetpu.so.1')\n"
    "lib.edgetpu_version.restype = ctypes.c_char_p\n"
    "print(lib.edgetpu_version().decode())\n"
)


def device_runtime_version(facts: dict[str, object], fallback: int = 0) -> tuple[int, str]:
    """The device's Edge TPU runtime version and where it came from.

    In order: libedgetpu's own version string (facts ``edgetpu_runtime``, e.g. ``"…,
    RuntimeVersion(14)"``), the installed package's version (facts ``libedgetpu``, e.g.
    ``"libedgetpu1-std 16.0"`` → 14), then ``fallback`` (the profile's ``edgetpu_runtime_version``).
    """
    found = parse_runtime_version(str(facts.get("edgetpu_runtime") or ""))
    if found:
        return found, "libedgetpu"
    for line in str(facts.get("libedgetpu") or "").split(";"):
        parts = line.split()
        m = re.match(r"(\d+)\.(\d+)", parts[1]) if len(parts) > 1 else None
        if m:
            version = (int(m.group(1)), int(m.group(2)))
            for at_least, runtime in _PACKAGE_RUNTIME:
                if version >= at_least:
                    return runtime, f"package {parts[0]} {parts[1]}"
    return fallback, "profile"
