"""TOML values checked against the kind of the field they fill."""

from __future__ import annotations

import math

from edgekit.tomlvalues import fits, scalar


def test_toml_values_fit_the_kind_of_their_field() -> None:
    assert fits(True, False) and not fits(1, False)              # a bool is not a number, nor the reverse
    assert fits(3, 0) and not fits(True, 0) and not fits(3.0, 0)
    assert fits(3, 0.5) and scalar(3, 0.5) == 3.0 and isinstance(scalar(3, 0.5), float)
    assert not fits(math.nan, 0.5) and not fits(math.inf, 0.5)   # TOML allows nan/inf; fields do not
    assert fits("x", "") and not fits(1, "")
