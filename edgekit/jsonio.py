"""Files written atomically (a temp file in the same folder, then os.replace), and versioned JSON."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import ConfigError

SCHEMA = 1


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically, with the usual file mode; returns the path.

    Readers see the old file or the new one, never a part: the text goes to a temporary
    file in the same folder, is synced, and replaces ``path`` in one rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    """Write ``doc`` (with ``"schema"`` first) to ``path`` atomically; returns the path."""
    body = {"schema": SCHEMA, **{k: v for k, v in doc.items() if k != "schema"}}
    return write_text(path, json.dumps(body, indent=2, sort_keys=False, default=_default) + "\n")


def read_json(path: str | os.PathLike[str], what: str = "file") -> dict[str, Any]:
    """Read a versioned JSON document, with clear errors for missing, corrupt or newer files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} '{path}' does not exist", hint="check the path")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{what} '{path}' is not valid JSON: {exc}",
            hint="the file is corrupt or truncated; re-create it",
        ) from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{what} '{path}' holds a {type(doc).__name__}, not a JSON object")
    schema = doc.get("schema")
    if schema is not None and (not isinstance(schema, int) or schema > SCHEMA):
        raise ConfigError(
            f"{what} '{path}' has schema {schema!r}; this edgekit reads schema {SCHEMA}",
            hint="upgrade edgekit",
        )
    return doc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalar
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__}")
