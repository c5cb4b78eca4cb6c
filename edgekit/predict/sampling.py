"""The predictor's training set on disk: generated architectures, converted, and which of
them a device still lacks.

Layout of a sample folder (``.edgekit/predict-samples`` unless told)::

    archs/<arch id>/spec.json                  the architecture (:class:`ArchSpec`)
    archs/<arch id>/manifest.json              edgekit convert's manifest of its variants
    archs/<arch id>/<arch id>_<variant>.tflite

Conversion is the real converter with random calibration inputs (latency does not depend on
the calibration data's values, only on the graph and dtypes), and each artifact records
``extra["model"]["arch_id"]`` so training rows from the store know their architecture.
A rerun skips what is on disk. Measuring goes through the lab (see ``edgekit predict
sample``); this module never measures.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..artifact import Artifact, Manifest
from ..errors import ConfigError, EdgekitError
from ..store import Store
from ..tomlvalues import toml_table
from .generate import FAMILIES, ArchSpec, build_keras, generate

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(".edgekit") / "predict-samples"
DEFAULT_VARIANTS: tuple[str, ...] = ("fp32", "int8")
SAMPLE_VARIANTS: tuple[str, ...] = ("fp32", "fp16", "dynamic", "int8", "int16x8")

#: progress(stage, done, total, detail)
Progress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class Converted:
    """One architecture on disk, with its artifacts (one per variant)."""

    spec: ArchSpec
    folder: Path
    artifacts: tuple[Artifact, ...]


def check_variants(variants: Sequence[str]) -> tuple[str, ...]:
    """``variants`` if each is one the sampler converts.

    Raises:
        ConfigError: an empty list or a variant the sampler does not convert.
    """
    bad = [v for v in variants if v not in SAMPLE_VARIANTS]
    if bad or not variants:
        raise ConfigError(f"sample variant(s) {bad or list(variants)!r} are not ones the sampler converts",
                          hint=f"use some of {', '.join(SAMPLE_VARIANTS)}")
    return tuple(dict.fromkeys(variants))


def arch_folder(root: str | Path, arch_id: str) -> Path:
    return Path(root) / "archs" / arch_id


def convert_spec(spec: ArchSpec, root: str | Path, variants: Sequence[str] = DEFAULT_VARIANTS) -> Converted:
    """Convert ``spec`` into its folder under ``root`` (skipped when its manifest already has
    every variant); returns its artifacts.

    Raises:
        ConversionError: the converter failed.
    """
    folder = arch_folder(root, spec.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(json.dumps(spec.to_dict(), indent=1), encoding="utf-8")
    have = _existing(folder, variants)
    if have is not None:
        return Converted(spec, folder, have)
    import numpy as np

    from ..convert.api import convert

    model = build_keras(spec)
    x = np.random.default_rng(0).normal(0, 1, size=(48, *spec.input_shape)).astype("float32")
    needs_data = any(v in ("int8", "int16x8") for v in variants)
    manifest = convert(model, folder, variants=",".join(variants), calibration=x if needs_data else None,
                       samples=32, use_cache=False, name=spec.id,
                       model_info={"arch_id": spec.id, "family": spec.family, "rounding": spec.rounding})
    return Converted(spec, folder, tuple(a for a in manifest.artifacts if a.variant in variants))


def _existing(folder: Path, variants: Sequence[str]) -> Optional[tuple[Artifact, ...]]:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = Manifest.load(path)
    except EdgekitError as exc:
        log.warning("converting %s again: %s", folder, exc)
        return None
    found = {a.variant: a for a in manifest.artifacts if a.path.is_file()}
    if not all(v in found for v in variants):
        return None
    return tuple(found[v] for v in variants)


def convert_samples(n: int, root: str | Path, variants: Sequence[str] = DEFAULT_VARIANTS, seed: int = 0,
                    families: Sequence[str] = FAMILIES, start: int = 0,
                    progress: Optional[Progress] = None) -> tuple[list[Converted], list[tuple[str, str]]]:
    """Architectures ``start … start+n-1`` of the seeded sequence, converted under ``root``.

    Returns the converted architectures and the (arch id, reason) of those whose conversion
    failed (one bad architecture does not stop the others).
    """
    variants = check_variants(variants)
    specs = generate(n, seed=seed, families=tuple(families), start=start)
    done: list[Converted] = []
    failed: list[tuple[str, str]] = []
    for i, spec in enumerate(specs):
        if progress:
            progress("convert", i, len(specs), spec.id)
        try:
            done.append(convert_spec(spec, root, variants))
        except EdgekitError as exc:
            log.warning("architecture %s: conversion failed: %s", spec.id, exc)
            failed.append((spec.id, str(exc)))
    if progress:
        progress("convert", len(specs), len(specs), "")
    return done, failed


def unmeasured(store: Store, device: str, converted: Sequence[Converted]) -> list[Artifact]:
    """The artifacts of ``converted`` without a successful measurement on ``device`` in ``store``."""
    measured = {m.artifact_sha256 for m in store.measurements(device=device, status="ok", samples=False)}
    return [a for c in converted for a in c.artifacts if a.sha256 not in measured]


def lab_toml(name: str, device_entry: dict[str, object], jobs: Sequence[tuple[Path, Sequence[str]]],
             lab_keys: Optional[dict[str, object]] = None, defaults: Optional[dict[str, object]] = None) -> str:
    """A lab file measuring, on one device, the given variants of each manifest (TOML text).

    ``device_entry`` is a ``[[device]]`` table (``name``, ``profile`` and connection keys);
    ``jobs`` (manifest path, variants) pairs — those with no variant are left out;
    ``lab_keys`` other ``[lab]`` keys (e.g. ``profiles`` as absolute paths), ``defaults`` the
    ``[defaults]`` run settings.
    """
    lab = {"name": name, **(lab_keys or {})}
    text = f"[lab]\n{toml_table(lab)}\n[defaults]\n{toml_table(defaults or {})}\n[[device]]\n{toml_table(device_entry)}"
    for manifest, variants in jobs:
        if variants:
            text += "\n[[job]]\n" + toml_table({"models": [str(manifest)], "variants": list(variants),
                                                "devices": [str(device_entry["name"])]})
    return text
