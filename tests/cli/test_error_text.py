"""Errors off a terminal: one line per message, never hard-wrapped at 80 columns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_errors_are_not_wrapped_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "pipeline.toml"
    r = subprocess.run([sys.executable, "-m", "edgekit.cli.main", "run", str(deep)], capture_output=True,
                       text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "80", "TERM": "xterm"})
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0] == f"error: pipeline file '{deep}' does not exist", r.stderr
    assert lines[1].startswith("hint: ") and len(lines) == 2, r.stderr
