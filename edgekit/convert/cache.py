"""A content-addressed cache of converted variants.

Each variant is cached on its own, under a key that hashes everything its bytes depend on:
the model's content hash, the variant, the options that variant uses (the calibration
array's hash and the I/O dtype for int8; the calibration hash for int16x8; nothing else for
fp32/fp16/dynamic), the TensorFlow version and edgekit's version. So adding a variant, or
changing the calibration data, re-converts only what it affects.

Layout (``$EDGEKIT_CACHE_DIR`` or ``~/.cache/edgekit/convert``)::

    <root>/<key[:2]>/<key>/model.tflite     the converted bytes
    <root>/<key[:2]>/<key>/record.json      provenance, conversion seconds, fidelity results
    <root>/models/<model sha256>.json       the model's input specs (to check calibration
                                            data on a cache hit without TensorFlow)

Entries are written into a temporary folder and renamed into place, so a killed process
never leaves a half-written entry; an entry whose bytes no longer match its recorded
sha256 is dropped and converted again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..artifact import TensorSpec, sha256_file
from ..errors import ConfigError
from ..jsonio import read_json, write_json

LOG = logging.getLogger(__name__)

CACHE_FORMAT = 1
ENV_VAR = "EDGEKIT_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$EDGEKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/edgekit/convert`` or ``~/.cache/edgekit/convert``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgekit" / "convert"


@dataclass(frozen=True)
class CacheEntry:
    """A cached variant: its ``.tflite`` file and its record."""

    key: str
    folder: Path
    record: dict[str, Any]

    @property
    def tflite(self) -> Path:
        return self.folder / "model.tflite"


class ConvertCache:
    """The converted-variant cache rooted at ``root`` (default: :func:`default_cache_dir`)."""

    def __init__(self, root: Optional[str | Path] = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    @staticmethod
    def key(model_sha256: str, variant: str, options: dict[str, Any], tensorflow_version: str,
            edgekit_version: str) -> str:
        """The cache key of one variant (hex sha256)."""
        doc = {"format": CACHE_FORMAT, "model": model_sha256, "variant": variant,
               "options": dict(sorted(options.items())), "tensorflow": tensorflow_version,
               "edgekit": edgekit_version}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def _folder(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> Optional[CacheEntry]:
        """The entry for ``key``, or None (also when the entry is damaged: it is removed)."""
        folder = self._folder(key)
        if not (folder / "model.tflite").is_file() or not (folder / "record.json").is_file():
            return None
        try:
            record = read_json(folder / "record.json", what="cache record")
            if sha256_file(folder / "model.tflite") != record.get("sha256"):
                raise ConfigError("cached bytes do not match their sha256")
        except (ConfigError, OSError) as exc:
            LOG.warning("dropping damaged cache entry %s: %s", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return CacheEntry(key, folder, record)

    def put(self, key: str, tflite: Path, record: dict[str, Any]) -> Optional[CacheEntry]:
        """Store a copy of ``tflite`` with ``record``; returns the entry (None if the cache is not writable)."""
        final = self._folder(key)
        tmp: Optional[Path] = None
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
            shutil.copyfile(tflite, tmp / "model.tflite")
            write_json(tmp / "record.json", {**record, "sha256": sha256_file(tmp / "model.tflite")})
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
            tmp = None
        except OSError as exc:  # unwritable cache, or another process renamed first
            LOG.warning("cannot write the conversion cache entry %s: %s", final, exc)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        return self.get(key)

    def update_record(self, entry: CacheEntry, changes: dict[str, Any]) -> CacheEntry:
        """Merge ``changes`` into an entry's record (e.g. a new fidelity result)."""
        record = {**entry.record, **changes}
        try:
            write_json(entry.folder / "record.json", record)
        except OSError as exc:
            LOG.warning("cannot update cache record %s: %s", entry.folder, exc)
        return CacheEntry(entry.key, entry.folder, record)

    # -- model inputs ------------------------------------------------------------------
    def model_inputs(self, model_sha256: str) -> Optional[tuple[TensorSpec, ...]]:
        """The input specs recorded for a model, or None."""
        path = self.root / "models" / f"{model_sha256}.json"
        if not path.is_file():
            return None
        try:
            doc = read_json(path, what="cache record")
            return tuple(TensorSpec.from_dict(t) for t in doc["inputs"])
        except (ConfigError, KeyError, TypeError) as exc:
            LOG.warning("ignoring damaged cache record %s: %s", path, exc)
            return None

    def save_model_inputs(self, model_sha256: str, inputs: tuple[TensorSpec, ...]) -> None:
        """Record a model's input specs."""
        try:
            write_json(self.root / "models" / f"{model_sha256}.json",
                       {"inputs": [t.to_dict() for t in inputs]})
        except OSError as exc:
            LOG.warning("cannot write the conversion cache in %s: %s", self.root, exc)


__all__ = ["ConvertCache", "CacheEntry", "default_cache_dir", "CACHE_FORMAT", "ENV_VAR"]
