"""The variant of a bare ``.tflite`` a device session measures."""

from __future__ import annotations

import logging
from pathlib import Path

from ..artifact import Manifest
from ..tflite.describe import guess_variant as guess_from_content
from ..tflite.model_file import ModelFile

log = logging.getLogger(__name__)


def guess_variant(path: Path, model_file: ModelFile) -> str:
    """The variant of a bare ``.tflite``: from a ``manifest.json`` beside it, else from its content
    (:func:`edgekit.tflite.describe.guess_variant`, the one content-based guess)."""
    manifest = path.parent / "manifest.json"
    if manifest.is_file():
        try:
            for a in Manifest.load(manifest).artifacts:
                if a.sha256 == model_file.sha256:
                    return a.variant
        except Exception as exc:  # noqa: BLE001 - a foreign manifest.json is not our concern here
            log.debug("ignoring %s: %s", manifest, exc)
    return guess_from_content(model_file)
