"""The tiny CNN converted to all variants (shared with tests/convert: converted once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..convert.shared_conversions import session_cache_dir, tiny_all_variants


@pytest.fixture(scope="session", autouse=True)
def evaluate_cache_dir() -> Path:
    return session_cache_dir()


@pytest.fixture(scope="session")
def tiny_manifest(tiny_models: Any) -> Any:
    return tiny_all_variants(tiny_models)
