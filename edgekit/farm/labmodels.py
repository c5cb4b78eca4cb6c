"""What the ``models`` entries of a lab file stand for: .tflite files, globs, manifests.

Every file is read (flatbuffer checks included) while the lab file is validated, so a
missing, truncated or foreign model is a :class:`ConfigError` before anything runs.
"""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Any, Callable, Optional

from ..artifact import Artifact, Manifest
from ..errors import ConfigError
from ..measurement import RunSettings


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


#: interleaved sessions of each model of an A/B job (a job with a ``baseline``) when not set
AB_DEFAULT_REPEAT = 5


def ab_settings(settings: RunSettings, repeat_given: bool, where: str) -> RunSettings:
    """An A/B job's settings: ``repeat`` ≥ 2 (default :data:`AB_DEFAULT_REPEAT` when not set)."""
    if repeat_given and settings.repeat < 2:
        raise ConfigError(f"{where}: repeat = {settings.repeat} is too few for a job with a baseline",
                          hint="set repeat ≥ 2 (5 or more gives the paired gate its power), or drop 'baseline'")
    return dataclasses.replace(settings, repeat=AB_DEFAULT_REPEAT) if settings.repeat < 2 else settings


#: picks the in-run baseline of one candidate artifact
BaselinePick = Callable[[Artifact], Artifact]


def resolve_baselines(value: Any, models: list[str], variants: list[str], base: Path, where: str,
                      cache: dict[Path, list[Artifact]]) -> list[Optional[BaselinePick]]:
    """What a job's ``baseline`` key says, per ``models`` entry: how to pick each artifact's baseline.

    ``baseline`` is one entry (the baseline of every model of the job) or a list parallel to
    ``models``; an entry is anything a ``models`` entry may be. When it stands for one
    artifact, that is the baseline of every artifact of its model entry; when it stands for
    several (a manifest), each candidate gets the baseline of its own variant.
    """
    if value is None:
        return [None] * len(models)
    if isinstance(value, str):
        entries = [value] * len(models)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        entries = list(value)
        if len(entries) != len(models):
            raise ConfigError(f"{where}: baseline lists {len(entries)} entries for {len(models)} models",
                              hint="give one baseline, or a list parallel to models (one per entry)")
    else:
        raise ConfigError(f"{where}: baseline must be a path or a list of paths, not {value!r}",
                          hint='e.g. baseline = "old/model.tflite"')
    return [_picker(resolve_models(e, variants, base, f"{where} baseline", cache), e, where) for e in entries]


def _picker(found: list[Artifact], entry: str, where: str) -> BaselinePick:
    if len(found) == 1:
        only = found[0]
        return lambda art: only
    by_variant: dict[str, Artifact] = {}
    for a in found:
        if a.variant in by_variant:
            raise ConfigError(f"{where}: baseline '{entry}' stands for several '{a.variant}' models",
                              hint="name one baseline file, or a manifest with one model per variant")
        by_variant[a.variant] = a

    def pick(art: Artifact) -> Artifact:
        if art.variant not in by_variant:
            raise ConfigError(f"{where}: baseline '{entry}' has no '{art.variant}' model for '{art.name}' "
                              f"(it has: {', '.join(sorted(by_variant))})",
                              hint="convert that variant of the baseline, or name one baseline .tflite")
        return by_variant[art.variant]
    return pick


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
