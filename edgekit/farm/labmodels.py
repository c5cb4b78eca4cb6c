"""What the ``models`` entries of a lab file stand for: .tflite files, globs, manifests.

Every file is read (flatbuffer checks included) while the lab file is validated, so a
missing, truncated or foreign model is a :class:`ConfigError` before anything runs.
"""

from __future__ import annotations

import glob
from pathlib import Path

from ..artifact import Artifact, Manifest
from ..errors import ConfigError


def resolve_models(model: str, variants: list[str], base: Path, where: str,
                   cache: dict[Path, list[Artifact]]) -> list[Artifact]:
    """The artifacts one ``models`` entry of a lab file stands for.

    Args:
        model: a ``.tflite`` path, a glob, a manifest.json or its folder (relative to ``base``).
        variants: when not empty, only these variants of manifests (each must exist).
        base: the lab file's folder.
        where: the lab file entry, for error messages.
        cache: artifacts already read, by path (each file is read once per lab file).
    """
    if any(ch in model for ch in "*?["):
        paths = sorted(Path(p) for p in glob.glob(str(base / model), recursive=True))
        if not paths:
            raise ConfigError(f"{where}: model pattern '{model}' matches no file (in '{base}')",
                              hint="check the pattern; paths are relative to the lab file")
    else:
        paths = [base / model]
    out: list[Artifact] = []
    for p in paths:
        if p not in cache:
            cache[p] = _load_model(p, model, where)
        arts = cache[p]
        if variants and p.suffix != ".tflite":
            have = {a.variant for a in arts}
            missing = [v for v in variants if v not in have]
            if missing:
                raise ConfigError(f"{where}: manifest '{p}' has no variant(s) {missing} "
                                  f"(it has: {', '.join(sorted(have)) or 'none'})",
                                  hint="fix variants = [...] or convert those variants")
            arts = [a for a in arts if a.variant in variants]
        out.extend(arts)
    return out


def _load_model(p: Path, given: str, where: str) -> list[Artifact]:
    if not p.exists():
        raise ConfigError(f"{where}: model '{given}' does not exist ({p})",
                          hint="check the path (relative to the lab file), or run `edgekit convert` first")
    if p.is_dir() or p.suffix == ".json":
        manifest = Manifest.load(p)
        for a in manifest.artifacts:
            if not a.path.is_file():
                raise ConfigError(f"{where}: manifest '{manifest.path}' lists '{a.path}', which does not exist",
                                  hint="re-run `edgekit convert`, or fix the manifest folder")
        if not manifest.artifacts:
            raise ConfigError(f"{where}: manifest '{manifest.path}' has no artifacts")
        return list(manifest.artifacts)
    if p.suffix != ".tflite":
        raise ConfigError(f"{where}: model '{given}' is neither a .tflite file nor a manifest",
                          hint="list .tflite files, globs, or the manifest.json written by `edgekit convert`")
    from ..devices.deploy import artifact_from_file
    from ..tflite.model_file import read_model

    try:
        model_file = read_model(p)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}", hint=exc.hint) from exc
    return [artifact_from_file(p.resolve(), model_file)]
