"""``edgekit run``: the family table, errors and exit codes, and a fast start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.cli.main import main


def test_family_params_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--family-params"]) == 0
    out = capsys.readouterr().out
    for ours, paper in (("14.67", "14.70"), ("99.02", "98.57"), ("1357.29", "1343.01")):
        assert ours in out and paper in out
    assert main(["run", "--family-params", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["width"] for r in rows] == [0.05, 0.1, 0.25, 0.5, 0.75, 1.0]
    assert rows[-1]["ours"] == 1_357_290 and rows[-1]["paper"] == pytest.approx(1_343_010)


def test_bad_pipeline_exits_2_with_message_and_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[convert]\nvariants = [\"fp64\"]\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "fp64" in err and "hint" in err and "int8" in err
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_cli_starts_without_tensorflow() -> None:
    code = ("import sys, edgekit.cli.main, edgekit.cli.run, edgekit.pipeline.run\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
