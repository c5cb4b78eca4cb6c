"""Compact, lossless (at 1 ns) encoding of latency samples, and its base64 form for JSON.

Samples are given in µs (floats). Encoding:

1. round to integer nanoseconds (``round(µs × 1000)``) — lossless for values that are
   whole nanoseconds, i.e. anything a ns or µs timer produced;
2. divide by the greatest common divisor of all values (``scale``): samples a runner
   reported in whole µs shrink by 1000 before anything else;
3. transform to small integers — either the **offset** from a reference (the median) or
   the **delta** from the previous sample (better when the series drifts, e.g. heating)
   — both are encoded and the smaller kept; signed values become unsigned by zigzag;
4. lay the values out as fixed-width little-endian integers, byte plane by byte plane
   (all low bytes, then all second bytes, …) so the near-constant high bytes form long
   runs, and compress with zlib (level 9).

Layout (format version 1)::

    byte 0   version (1)
    byte 1   transform: 0 = offset from reference, 1 = delta (first from reference)
    varint   count
    varint   zigzag(reference), in scaled units
    varint   scale (ns per unit)
    byte     width (bytes per value, 1..8)
    rest     zlib(width planes × count bytes)

Measured (``benchmarks/stats_calibration.py``): 57 000 samples of ~1 ms with 2 %
jitter at ns resolution take ≈ 120 kB (≈ 16.8 bits each, close to the ≈ 16.3-bit
entropy of that jitter at 1 ns, so no lossless coder gets much smaller), of ~20 µs
≈ 88 kB, and µs-integer samples ≈ 46 kB. Base64 text is a third larger than the bytes.
Values must be finite with ``|x| < 2^60`` ns.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import numpy as np

from edgekit.errors import ConfigError, MeasurementError

FORMAT_VERSION = 1
_OFFSET, _DELTA = 0, 1
_MAX_NS = 2 ** 60


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise MeasurementError("encoded samples end inside a number (truncated or corrupt)",
                                   hint="re-measure, or restore the results file from a backup")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _zigzag(values: np.ndarray) -> np.ndarray:
    return ((values << 1) ^ (values >> 63)).view(np.uint64)


def _unzigzag(values: np.ndarray) -> np.ndarray:
    return (values >> np.uint64(1)).view(np.int64) ^ -(values & np.uint64(1)).view(np.int64)


def _planes(unsigned: np.ndarray) -> tuple[int, bytes]:
    top = int(unsigned.max()) if unsigned.size else 0
    width = max(1, (top.bit_length() + 7) // 8)
    raw = unsigned.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width]
    return width, zlib.compress(np.ascontiguousarray(raw.T).tobytes(), 9)


def to_nanoseconds(samples_us: Any) -> np.ndarray:
    """The samples as int64 nanoseconds (the codec's exact content)."""
    try:
        arr = np.asarray(samples_us, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"samples are not numbers: {exc}", hint="pass a list or array of µs floats") from exc
    if arr.size and (not np.all(np.isfinite(arr)) or float(np.abs(arr).max()) * 1000.0 >= _MAX_NS):
        raise ConfigError("samples hold NaN, infinite or out-of-range (≥ 2^60 ns) values",
                          hint="drop failed runs; samples are in µs")
    return np.rint(arr * 1000.0).astype(np.int64)


def encode_samples(samples_us: Any) -> bytes:
    """Encode µs samples (floats) to bytes, losslessly at 1 ns (see the module docstring)."""
    ns = to_nanoseconds(samples_us)
    scale = int(np.gcd.reduce(np.abs(ns))) if ns.size else 1
    scale = scale or 1
    units = ns // scale
    reference = int(np.median(units)) if units.size else 0
    offsets = units - reference
    deltas = np.diff(units, prepend=reference)
    best = min(((_OFFSET, *_planes(_zigzag(offsets))), (_DELTA, *_planes(_zigzag(deltas)))),
               key=lambda t: len(t[2]))
    transform, width, body = best
    zz_ref = (reference << 1) ^ (reference >> 63)
    header = (bytes([FORMAT_VERSION, transform]) + _varint(int(units.size)) + _varint(zz_ref)
              + _varint(scale) + bytes([width]))
    return header + body


def decode_samples(data: bytes) -> np.ndarray:
    """Decode :func:`encode_samples` output to float64 µs (``ns / 1000``)."""
    if len(data) < 2 or data[0] != FORMAT_VERSION or data[1] not in (_OFFSET, _DELTA):
        version = data[0] if data else None
        raise MeasurementError(f"encoded samples have format version {version!r}, this edgekit reads "
                               f"{FORMAT_VERSION}", hint="upgrade edgekit, or re-measure")
    transform = data[1]
    count, pos = _read_varint(data, 2)
    zz_ref, pos = _read_varint(data, pos)
    scale, pos = _read_varint(data, pos)
    if pos >= len(data):
        raise MeasurementError("encoded samples are truncated before the data", hint="re-measure")
    width, pos = data[pos], pos + 1
    reference = (zz_ref >> 1) ^ -(zz_ref & 1)
    try:
        raw = zlib.decompress(data[pos:])
    except zlib.error as exc:
        raise MeasurementError(f"encoded samples are corrupt: {exc}", hint="re-measure") from exc
    if not 1 <= width <= 8 or len(raw) != count * width:
        raise MeasurementError(f"encoded samples hold {len(raw)} bytes, expected {count} × {width}",
                               hint="the data is corrupt: re-measure")
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(width, count)
    full = np.zeros((count, 8), dtype=np.uint8)
    full[:, :width] = planes.T
    values = _unzigzag(full.view("<u8").reshape(-1).astype(np.uint64))
    units = (np.cumsum(values) + reference) if transform == _DELTA else (values + reference)
    return (units * scale).astype(np.float64) / 1000.0


def samples_to_base64(samples_us: Any) -> str:
    """:func:`encode_samples` as ASCII base64 text, for a JSON string field."""
    return base64.b64encode(encode_samples(samples_us)).decode("ascii")


def samples_from_base64(text: str) -> np.ndarray:
    """The inverse of :func:`samples_to_base64`."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise MeasurementError(f"encoded samples are not base64 text: {exc}", hint="re-measure") from exc
    return decode_samples(data)


__all__ = ["FORMAT_VERSION", "decode_samples", "encode_samples", "samples_from_base64", "samples_to_base64",
           "to_nanoseconds"]
