"""The TFLite / LiteRT version a ``benchmark_model``-family binary says it is built from.

Builds differ in how they say it, and many do not: a ``--version`` flag where one exists, else
a banner line (``TensorFlow Lite version 2.14.0``, ``TFLite version: 2.16.1``, ``LiteRT
1.2.0``…). Only a version next to one of those names is taken; anything else is unknown, and
an unknown version is not guessed (the op-version check is then left to the device's loader,
whose refusal edgekit still turns into :class:`~edgekit.errors.RuntimeIncompatible`).
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ["parse_binary_version"]

_VERSION = re.compile(
    r"(?:TensorFlow\s*Lite|TFLite|LiteRT|tensorflow)[\w\s]*?(?:version)?\s*[:=]?\s*v?(\d+\.\d+(?:\.\d+)?(?:[-.\w]*)?)",
    re.IGNORECASE)


def parse_binary_version(text: str) -> Optional[str]:
    """``"2.14.0"`` from the first line naming TFLite/LiteRT with a version; None otherwise."""
    for line in (text or "").splitlines():
        m = _VERSION.search(line)
        if m:
            return m.group(1)
    return None
