"""Values read from TOML files (profiles, lab files, pipelines), checked against the kind of
the field they fill — the field's default says the kind. Callers word their own errors."""

from __future__ import annotations

import math
from typing import Any


def fits(value: Any, default: Any) -> bool:
    """Whether ``value`` has the kind of ``default``: bool, int (not bool), finite number, str."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(default, str):
        return isinstance(value, str)
    raise TypeError(f"no TOML kind for a field defaulting to {default!r}")


def scalar(value: Any, default: Any) -> Any:
    """``value`` as the field stores it (an int where a float is expected becomes a float)."""
    return float(value) if isinstance(default, float) else value
