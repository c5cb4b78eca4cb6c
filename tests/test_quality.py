"""Quality thresholds: 85%, 0.85 and 85 mean the same, in the CLI and in pipeline files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.pipeline.pipeline_file import load_pipeline
from edgekit.quality import parse_fraction


@pytest.mark.parametrize("value", ["85%", "0.85", "85", 85, 0.85, " 85 % ".replace(" % ", "%")])
def test_every_spelling_of_85_percent(value: object) -> None:
    assert parse_fraction(value, "--min-quality") == pytest.approx(0.85)


@pytest.mark.parametrize("value", ["8500%", "-1", "150", "high", True, float("nan")])
def test_nonsense_is_refused_with_a_hint(value: object) -> None:
    with pytest.raises(ConfigError) as err:
        parse_fraction(value, "--min-quality")
    assert "85%" in (err.value.hint or "")


def test_pipeline_file_reads_min_quality_the_same_way(tmp_path: Path) -> None:
    for text in ('"85%"', "85", "0.85"):
        p = tmp_path / "p.toml"
        p.write_text(f"[report]\nmin_quality = {text}\n")
        assert load_pipeline(p).report.min_quality == pytest.approx(0.85), text


def test_cli_min_quality_85_is_85_percent_not_8500(tmp_path: Path) -> None:
    from edgekit.cli.report import _quality

    assert _quality("85") == _quality("85%") == _quality("0.85") == pytest.approx(0.85)
