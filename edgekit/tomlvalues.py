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


# -- writing: the lab files edgekit derives (strings, numbers, booleans, lists) --------------
def toml_value(v: Any) -> str:
    """``v`` as a TOML value (a JSON string is a valid TOML basic string).

    Raises:
        ConfigError: ``v`` is not a string, number, boolean or list of them.
    """
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    from .errors import ConfigError

    raise ConfigError(f"lab file value {v!r} cannot be written back", hint="use strings, numbers, booleans or lists")


def toml_table(body: dict[str, Any]) -> str:
    """The ``key = value`` lines of one table (None values left out)."""
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items() if v is not None)
