"""MLPerf Mobile's replicability rule."""

from __future__ import annotations

import pytest

from edgekit.errors import ConfigError
from edgekit.stats.stability import stability


def test_within_and_beyond_five_percent() -> None:
    v = stability([1000.0, 1020.0, 1049.0])
    assert v.state == "stable" and v.stable and v.spread == pytest.approx(0.049)
    assert (v.lowest, v.highest, v.sessions) == (1000.0, 1049.0, 3)
    u = stability([1000.0, 1020.0, 1051.0])
    assert u.state == "unstable" and u.spread == pytest.approx(0.051)
    assert stability([100.0, 105.0]).state == "stable"          # exactly 5 % counts as within
    assert stability([100.0, 108.0], tolerance=0.1).stable
    assert "5 %" in v.rule and v.to_dict()["state"] == "stable"


def test_one_session_cannot_judge() -> None:
    v = stability([1000.0])
    assert v.state == "cannot-judge" and v.spread == 0.0 and not v.stable


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="empty"):
        stability([])
    with pytest.raises(ConfigError, match="≤ 0"):
        stability([1.0, 0.0])
    with pytest.raises(ConfigError, match="tolerance"):
        stability([1.0, 2.0], tolerance=-0.1)
