from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.jsonio import read_json, write_json, write_text


def test_write_text_replaces_whole_files_with_the_usual_mode(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        path = write_text(tmp_path / "sub" / "report.csv", "a,b\r\n1,2\r\n")
        assert path.read_bytes() == b"a,b\r\n1,2\r\n"            # written as given (CSV keeps \r\n)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644        # not mkstemp's 0600
        write_text(path, "new")
        assert path.read_text() == "new"
        assert sorted(p.name for p in path.parent.iterdir()) == ["report.csv"]  # no temp file left
    finally:
        os.umask(mask)


def test_json_is_versioned_and_round_trips(tmp_path: Path) -> None:
    path = write_json(tmp_path / "m.json", {"kind": "x", "schema": 99, "n": 1})
    assert path.read_text().startswith('{\n  "schema": 1,')
    assert read_json(path) == {"schema": 1, "kind": "x", "n": 1}
    path.write_text('{"schema": 2}')
    with pytest.raises(ConfigError, match="schema 2"):
        read_json(path)
