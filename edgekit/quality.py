"""Quality thresholds as people write them: ``85%``, ``0.85`` or ``85`` — one rule everywhere.

Accuracy-like metrics are stored as fractions (0.85). A threshold is read as:

* ``"85%"`` (a string ending in ``%``) → 0.85;
* a plain number in [0, 1] → that fraction (``0.85`` → 0.85; ``1`` → 1.0, i.e. 100 %);
* a plain number in (1, 100] → a percentage (``85`` → 0.85);
* anything else (negative, above 100, not a number) is refused with a hint.

The CLI (``--min-quality``, ``--max-quality-drop``), pipeline files (``[report] min_quality``)
and lab files use :func:`parse_fraction`.
"""

from __future__ import annotations

import math
from typing import Union

from .errors import ConfigError


def parse_fraction(value: Union[str, float, int], what: str) -> float:
    """``value`` as a fraction in [0, 1] (see the module docstring); ``what`` names it in errors."""
    hint = f"write {what} as 85% or 0.85 (a fraction) or 85 (percent)"
    if isinstance(value, bool):
        raise ConfigError(f"{what} {value!r} is not a quality value", hint=hint)
    percent = False
    if isinstance(value, str):
        text = value.strip()
        percent = text.endswith("%")
        try:
            number = float(text[:-1] if percent else text)
        except ValueError:
            raise ConfigError(f"{what} {value!r} is not a number", hint=hint) from None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise ConfigError(f"{what} {value!r} is not a number", hint=hint)
    if not math.isfinite(number) or number < 0 or number > 100 or (percent and number > 100):
        raise ConfigError(f"{what} {value!r} is out of range", hint=hint)
    if percent or number > 1:
        return number / 100.0
    return number
