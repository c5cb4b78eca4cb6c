"""The paper's reference figures (Menghani 2021, Tables 2, 5 and 6), shipped as package data.

They are shown *beside* measured figures, always labelled :data:`PAPER_LABEL`, and never
mixed into a measured frontier: the paper's latencies are phone figures on its devices.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Literal, Optional

from .collect import Candidate

log = logging.getLogger(__name__)

PAPER_LABEL = "paper (Menghani 2021)"
#: the model family of the pipeline whose members the paper's Tables 5/6 describe
PAPER_FAMILY = "paper-cnn"
#: training recipe → accuracy column of Tables 5/6
RECIPE_COLUMNS: dict[str, str] = {
    "baseline": "acc_baseline_pct",
    "augmentation": "acc_augmentation_pct",
    "distillation": "acc_augmentation_distillation_pct",
}
RECIPE_TITLES: dict[str, str] = {
    "baseline": "baseline",
    "augmentation": "augmentation",
    "distillation": "augmentation + distillation",
}
_RECIPE_ALIASES = {
    "base": "baseline", "aug": "augmentation", "augment": "augmentation", "distill": "distillation",
    "augmentation+distillation": "distillation", "augmentation_distillation": "distillation",
    "aug+distill": "distillation",
}
#: latency column of Tables 5/6 → the phone it was measured on
DEVICE_COLUMNS: dict[str, str] = {
    "latency_ms_oppo_a5": "Oppo A5",
    "latency_ms_pixel_3xl": "Pixel 3 XL",
    "latency_ms_galaxy_s10": "Galaxy S10",
}
#: profile names of those phones, used when the profile cannot be loaded
_PROFILE_COLUMNS = {
    "oppo-a5": "latency_ms_oppo_a5",
    "pixel3xl": "latency_ms_pixel_3xl",
    "pixel-3xl": "latency_ms_pixel_3xl",
    "galaxy-s10": "latency_ms_galaxy_s10",
}
_FILES = {"float": "table5_float.csv", "int8": "table6_int8.csv"}


@dataclass(frozen=True)
class PaperRow:
    """One row of Table 5 (float) or Table 6 (int8): a width of the paper's CNN family."""

    width: float
    params_k: float
    size_kb: float
    accuracy_pct: dict[str, float]     # recipe → top-1 %
    latency_ms: dict[str, float]       # paper column (e.g. "latency_ms_pixel_3xl") → ms


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("edgekit.report").joinpath("paper_tables", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=None)
def paper_table(precision: Literal["float", "int8"] = "float") -> tuple[PaperRow, ...]:
    """Table 5 (``"float"``) or Table 6 (``"int8"``), one row per width multiplier."""
    if precision not in _FILES:
        raise ValueError(f"precision must be 'float' or 'int8', not {precision!r}")
    rows = []
    for r in _read_csv(_FILES[precision]):
        rows.append(PaperRow(
            width=float(r["width_multiplier"]), params_k=float(r["params_k"]), size_kb=float(r["model_size_kb"]),
            accuracy_pct={recipe: float(r[col]) for recipe, col in RECIPE_COLUMNS.items()},
            latency_ms={col: float(r[col]) for col in DEVICE_COLUMNS},
        ))
    return tuple(rows)


@lru_cache(maxsize=None)
def paper_mobilenet_v2() -> tuple[dict[str, Any], ...]:
    """Table 2: MobileNet v2 1.0 (224) float / post-training quantization / QAT on a Pixel 2."""
    out = []
    for r in _read_csv("table2_mobilenetv2.csv"):
        out.append({"model": r["model"], "quantization": r["quantization"].replace("_", " "),
                    "top1_pct": float(r["top1_pct"]), "size_mb": float(r["size_mb"]),
                    "latency_ms_pixel2": float(r["latency_ms_pixel2"])})
    return tuple(out)


def canonical_recipe(recipe: str) -> str:
    """The paper's name for a training recipe (``distill`` → ``distillation``), else unchanged."""
    r = recipe.strip().lower()
    return _RECIPE_ALIASES.get(r, r)


def paper_matches(candidates: Iterable[Candidate]) -> bool:
    """Whether the paper's Tables 5/6 describe these models (the pipeline's ``paper-cnn`` family)."""
    return any(c.family == PAPER_FAMILY or c.family.startswith(PAPER_FAMILY + "-m") for c in candidates)


def paper_column(device: str, profile: str = "") -> Optional[str]:
    """The paper's latency column for a device, from its profile's ``paper_column``.

    Looks up the profile named ``profile`` (else ``device``); falls back to the known
    profile names of the paper's phones (``oppo-a5``, ``pixel3xl``, ``galaxy-s10``).
    """
    from ..errors import ConfigError

    names = [n for n in (profile, device) if n]
    try:
        from ..devices.profile import load_profiles

        profiles = load_profiles()
    except (ConfigError, OSError, ModuleNotFoundError) as exc:
        log.debug("device profiles unavailable for the paper mapping: %s", exc)
        profiles = {}
    for n in names:
        p = profiles.get(n)
        if p is not None and p.paper_column:
            if p.paper_column in DEVICE_COLUMNS:
                return p.paper_column
            log.warning("profile %s has an unknown paper_column %r", n, p.paper_column)
    for n in names:
        if n.lower() in _PROFILE_COLUMNS:
            return _PROFILE_COLUMNS[n.lower()]
    return None


def paper_row(width: Optional[float], precision: Literal["float", "int8"]) -> Optional[PaperRow]:
    """The paper's row for ``width`` (exact match), if any."""
    if width is None:
        return None
    return next((r for r in paper_table(precision) if abs(r.width - width) < 1e-9), None)


__all__ = ["DEVICE_COLUMNS", "PAPER_FAMILY", "PAPER_LABEL", "PaperRow", "RECIPE_COLUMNS", "RECIPE_TITLES",
           "canonical_recipe", "paper_column", "paper_matches", "paper_mobilenet_v2", "paper_row",
           "paper_table"]
