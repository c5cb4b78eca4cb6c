"""Samples in the store: a compact binary column instead of JSON text.

A measurement of a 20 µs model keeps ≈57 000 warm samples; as JSON text inside the
measurement's document that was ≈780 KB. The ``samples`` column holds each series in the
encoding of :mod:`edgekit.stats.sample_codec` (integer nanoseconds, lossless at ns
resolution, delta or median-offset, byte planes, zlib).

Layout: ``b"EKS"`` + version byte ``2`` + JSON header length (4 bytes, little-endian) +
JSON header ``{"series": {"samples_us": [count, bytes], "warmup_samples_us": [count, bytes]}}``
+ the encoded series, one after another.

Rows written before this column existed keep their samples in ``doc`` and read as before.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Optional, Sequence

from ..errors import StoreError
from ..measurement import Measurement
from ..stats.sample_codec import decode_samples, encode_samples

MAGIC = b"EKS\x02"
SERIES = ("samples_us", "warmup_samples_us")


def encode(series: dict[str, Sequence[float]]) -> bytes:
    """Every series of one measurement in one blob (each with :func:`edgekit.stats.sample_codec.encode_samples`)."""
    parts = [encode_samples(values) if len(values) else b"" for values in series.values()]
    header = {"series": {name: [len(values), len(part)] for (name, values), part in zip(series.items(), parts)}}
    head = json.dumps(header, sort_keys=False).encode()
    return MAGIC + struct.pack("<I", len(head)) + head + b"".join(parts)


def decode(blob: bytes) -> dict[str, list[float]]:
    """The series of a blob written by :func:`encode`."""
    if not blob.startswith(MAGIC):
        raise StoreError(f"a measurement's samples are in an unknown encoding ({bytes(blob[:4])!r})",
                         hint="this store was written by a newer edgekit: upgrade edgekit")
    (size,) = struct.unpack("<I", blob[4:8])
    header = json.loads(blob[8:8 + size])
    out, at = {}, 8 + size
    for name, (count, nbytes) in header["series"].items():
        out[name] = decode_samples(blob[at:at + nbytes]).tolist() if count else []
        at += nbytes
    return out


def split(m: Measurement) -> tuple[str, Optional[bytes]]:
    """(the measurement's JSON document without its samples, the samples' blob)."""
    d = m.to_dict()
    series = {name: d.pop(name) for name in SERIES}
    return json.dumps(d), encode(series)


def join(doc: str, blob: Optional[Any]) -> Measurement:
    """A measurement from its document and (when the row has one) its samples' blob."""
    d = json.loads(doc)
    if blob is not None:
        d.update(decode(bytes(blob)))
    return Measurement.from_dict(d)
