"""The README's Python API example, run as written, in a folder holding the files it names."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _api_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python API section has no ```python block"
    return match.group(1)


def test_readme_api_example_ends_with_a_recommendation_that_has_the_measured_quality(
        tiny_models: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(tiny_models.keras_path, tmp_path / "model.keras")
    shutil.copy(tiny_models.calibration_npz, tmp_path / "calib.npz")
    shutil.copy(tiny_models.test_npz, tmp_path / "test.npz")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EDGEKIT_STORE", raising=False)
    code = _api_example()
    scope: dict[str, Any] = {"print": lambda *a, **k: None}
    exec(compile(code, str(README) + ":python-api", "exec"), scope)  # noqa: S102 - the README's own code
    best = scope["result"].recommendations["host"].best
    assert best is not None and best.quality is not None and 0.0 <= best.quality <= 1.0
    assert best.median_ms is not None and best.median_ms > 0
    assert (tmp_path / ".edgekit" / "results.sqlite").is_file()   # every stage used the same default store
