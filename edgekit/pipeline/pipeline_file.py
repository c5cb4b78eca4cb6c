"""Pipeline files: parse and validate a pipeline TOML before any work is done.

A pipeline file names the dataset, the models (the paper's family at some widths, or the
user's own Keras models), the training recipes, the variants, the devices (or a lab file)
and the report's constraints. Unknown sections or keys and bad values are a
:class:`ConfigError` that names the file, the key, the value and the valid choices.
Relative paths are relative to the pipeline file's folder.

With no file, :data:`DEFAULT_PIPELINE` (the embedded default) is used: scikit-learn's
digits, three widths, baseline + distillation, fp32 + int8, measured on ``host``.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional

from ..artifact import ALL_VARIANTS
from ..errors import ConfigError
from ..quality import parse_fraction
from ..measurement import SETTING_FIELDS, RunSettings, settings_from_mapping
from ..report.formats import FORMATS
from ..tomlvalues import fits, scalar
from ..recipes.datasets import KINDS
from ..recipes.training import RECIPES

#: the embedded default pipeline (also shipped as examples/pipelines/digits-default.toml)
DEFAULT_PIPELINE = """\
# edgekit's embedded default: the paper's workflow on a dataset that ships with scikit-learn.
[pipeline]
name = "digits-default"
out = "edgekit-run"          # models/, artifacts/, report/; results go to the default store (store = "…" to change)
seed = 0

[dataset]
kind = "digits"              # digits | cifar10 | npz
path = ""
limit = 0

[family]
widths = [0.1, 0.25, 0.5]    # the paper's width multipliers (it has 0.05 … 1.0)

[train]
recipes = ["baseline", "distillation"]   # distillation = augmentation + a larger teacher
epochs = 20
batch_size = 64
learning_rate = 0.002
temperature = 4.0
lambda_labels = 0.5
lambda_teacher = 0.5
teacher_width = 1.0          # the teacher: the family at width 1.0, trained once with augmentation

[convert]
variants = ["fp32", "int8"]
calibration_samples = 200

[measure]
devices = ["host"]
runs = 50
warmup_runs = 10

[report]
max_latency_ms = 0           # 0 = no constraint
min_quality = 0              # 0 = no constraint; else 85%, 0.85 or 85
"""

VARIANT_CHOICES: tuple[str, ...] = ALL_VARIANTS
#: training recipes; "none" uses [family] models as given (no training)
PIPELINE_RECIPES: tuple[str, ...] = RECIPES + ("none",)
REPORT_FORMATS: tuple[str, ...] = FORMATS


@dataclass(frozen=True)
class PipelineSection:
    name: str = "pipeline"
    out: str = "edgekit-run"
    seed: int = 0
    #: the results store (a path relative to the file, or a URL); "" = the default store
    #: ($EDGEKIT_STORE, else .edgekit/results.sqlite), as for every other command
    store: str = ""


@dataclass(frozen=True)
class DatasetSection:
    kind: str = "digits"
    path: str = ""
    limit: int = 0
    test_fraction: float = 0.2
    allow_download: bool = False


@dataclass(frozen=True)
class FamilySection:
    widths: tuple[float, ...] = (0.1, 0.25, 0.5)
    models: tuple[str, ...] = ()          # user Keras models in place of the family
    #: round every conv/dense width to a multiple of this (MobileNet's make_divisible); 1 = no rounding
    channel_multiple: int = 1


@dataclass(frozen=True)
class TrainSection:
    recipes: tuple[str, ...] = ("baseline", "distillation")
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 0.002
    temperature: float = 4.0
    lambda_labels: float = 0.5
    lambda_teacher: float = 0.5
    teacher_width: float = 1.0
    teacher_model: str = ""               # a trained Keras teacher instead of the family's
    teacher_epochs: int = 0               # 0 = same as epochs
    augment_shift: float = 0.125
    augment_rotation: float = 10.0
    augment_flip: str = "auto"            # auto (the dataset decides) | yes | no


@dataclass(frozen=True)
class ConvertSection:
    variants: tuple[str, ...] = ("fp32", "int8")
    calibration_samples: int = 200


@dataclass(frozen=True)
class MeasureSection:
    """Where to measure, and how: every :class:`RunSettings` field is a key of ``[measure]``."""

    devices: tuple[str, ...] = ("host",)
    lab: str = ""
    profiles: tuple[str, ...] = ()        # extra folders of device profiles
    settings: RunSettings = RunSettings()

    def to_dict(self) -> dict[str, Any]:
        return {"devices": list(self.devices), "lab": self.lab, "profiles": list(self.profiles),
                **self.settings.to_dict()}


@dataclass(frozen=True)
class ReportSection:
    max_latency_ms: float = 0.0
    max_size_kb: float = 0.0
    min_quality: float = 0.0
    formats: tuple[str, ...] = ()         # () = the report's defaults
    title: str = ""
    predictors: str = ""                  # the latency predictors' folder ("" = $EDGEKIT_PREDICTORS or .edgekit/predictors)


@dataclass(frozen=True)
class PipelineConfig:
    """A validated pipeline; paths are absolute."""

    pipeline: PipelineSection = field(default_factory=PipelineSection)
    dataset: DatasetSection = field(default_factory=DatasetSection)
    family: FamilySection = field(default_factory=FamilySection)
    train: TrainSection = field(default_factory=TrainSection)
    convert: ConvertSection = field(default_factory=ConvertSection)
    measure: MeasureSection = field(default_factory=MeasureSection)
    report: ReportSection = field(default_factory=ReportSection)
    source: str = "<embedded default>"

    @property
    def out_dir(self) -> Path:
        return Path(self.pipeline.out)

    @property
    def uses_family(self) -> bool:
        return not self.family.models

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["measure"] = self.measure.to_dict()
        return out


_SECTIONS: dict[str, type] = {
    "pipeline": PipelineSection, "dataset": DatasetSection, "family": FamilySection,
    "train": TrainSection, "convert": ConvertSection, "measure": MeasureSection,
    "report": ReportSection,
}
#: keys whose values are paths, resolved against the pipeline file's folder
_PATH_KEYS = {("pipeline", "out"), ("pipeline", "store"), ("dataset", "path"), ("train", "teacher_model"),
              ("measure", "lab"), ("report", "predictors")}
_PATH_LIST_KEYS = {("family", "models"), ("measure", "profiles")}
#: allowed values of string keys
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("dataset", "kind"): KINDS,
    ("train", "augment_flip"): ("auto", "yes", "no"),
}
_LIST_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("train", "recipes"): PIPELINE_RECIPES,
    ("convert", "variants"): VARIANT_CHOICES,
    ("report", "formats"): REPORT_FORMATS,
}


def load_pipeline(path: str | Path | None = None, overrides: Optional[Mapping[str, Any]] = None) -> PipelineConfig:
    """Read and validate a pipeline file (None: the embedded default).

    Args:
        path: the TOML file, or None for :data:`DEFAULT_PIPELINE`.
        overrides: values that replace the file's, as ``{"pipeline.out": "x"}`` or
            ``{"pipeline": {"out": "x"}}``; validated like the file's.

    Returns:
        The :class:`PipelineConfig`.

    Raises:
        ConfigError: missing or malformed file, unknown key, bad value.
    """
    if path is None:
        where, base, text = "<embedded default>", Path.cwd(), DEFAULT_PIPELINE
    else:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(f"pipeline file '{p}' does not exist",
                              hint="pass a pipeline .toml (see examples/pipelines/), or no argument "
                                   "for the embedded default")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"pipeline file '{p}' cannot be read: {exc}",
                              hint="it must be a UTF-8 TOML file") from exc
        where, base = str(p), p.resolve().parent
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"pipeline file '{where}' is not valid TOML: {exc}",
                          hint="fix the syntax at the line shown (strings need quotes, lists [a, b])"
                          ) from exc
    doc = _merge(doc, overrides or {}, where)
    return _validate(doc, where, base)


def _merge(doc: dict[str, Any], overrides: Mapping[str, Any], where: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            for k, v in value.items():
                doc.setdefault(key, {})
                if not isinstance(doc[key], dict):
                    raise ConfigError(f"pipeline '{where}': [{key}] is not a table")
                doc[key][k] = v
            continue
        section, _, k = key.partition(".")
        if not k:
            raise ConfigError(f"override '{key}' must be 'section.key' (e.g. 'pipeline.out')")
        doc.setdefault(section, {})
        doc[section][k] = value
    return doc


def _validate(doc: dict[str, Any], where: str, base: Path) -> PipelineConfig:
    built: dict[str, Any] = {}
    for section, value in doc.items():
        if section not in _SECTIONS:
            raise ConfigError(f"pipeline '{where}': unknown section [{section}]",
                              hint=f"valid sections: {', '.join(_SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(f"pipeline '{where}': '{section}' = {value!r} must be a table [{section}]",
                              hint=f"write it as [{section}] followed by key = value lines")
    family = doc.get("family", {})
    if "widths" in family and "models" in family:
        raise ConfigError(f"pipeline '{where}': [family] has both widths = {family['widths']!r} and "
                          f"models = {family['models']!r}",
                          hint="widths train the paper's CNN family; models use your own Keras files: keep one")
    for section, cls in _SECTIONS.items():
        table = dict(doc.get(section, {}))
        valid = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        if cls is MeasureSection:
            valid.pop("settings")
            given = {k: table.pop(k) for k in list(table) if k in SETTING_FIELDS}
            kwargs["settings"] = settings_from_mapping(given, f"pipeline '{where}': [measure]")
            valid_keys = [*valid, *SETTING_FIELDS]
        else:
            valid_keys = list(valid)
        for key, value in table.items():
            if key not in valid:
                raise ConfigError(f"pipeline '{where}': unknown key '{key}' in [{section}] (value {value!r})",
                                  hint=f"valid keys in [{section}]: {', '.join(valid_keys)}")
            kwargs[key] = _coerce(where, section, key, value, valid[key].default, base)
        built[section] = cls(**kwargs)
    cfg = PipelineConfig(**built, source=where)
    _check_values(cfg, where)
    return cfg


def _bad(where: str, section: str, key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"pipeline '{where}': [{section}] {key} = {value!r} is not valid",
                       hint=f"{key} must be {expected}")


_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string in quotes"}


def _coerce(where: str, section: str, key: str, value: Any, default: Any, base: Path) -> Any:
    if (section, key) == ("report", "min_quality"):  # 85%, 0.85 or 85, as everywhere (0 = none)
        return parse_fraction(value, f"pipeline '{where}': [report] min_quality")
    if not isinstance(default, tuple) and not fits(value, default):
        raise _bad(where, section, key, value, _KIND_WORDS[type(default)])
    if isinstance(default, (bool, int, float)):
        return scalar(value, default)
    if isinstance(default, str):
        choices = _CHOICES.get((section, key))
        if choices and value not in choices:
            raise _bad(where, section, key, value, f"one of: {', '.join(choices)}")
        if (section, key) == ("pipeline", "store") and value and "://" in value:
            return value  # a URL (postgresql://…, sqlite:///…) is not a path to resolve
        if (section, key) in _PATH_KEYS and value:
            return str(_resolve(value, base))
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise _bad(where, section, key, value, "a list, e.g. [a, b]")
        if (section, key) == ("family", "widths"):
            for v in value:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v <= 16):
                    raise _bad(where, section, key, value, "a list of width multipliers in (0, 16], e.g. [0.25, 0.5, 1.0]")
            return tuple(float(v) for v in value)
        for v in value:
            if not isinstance(v, str):
                raise _bad(where, section, key, value, "a list of strings")
        choices = _LIST_CHOICES.get((section, key))
        if choices:
            for v in value:
                if v not in choices:
                    raise ConfigError(f"pipeline '{where}': [{section}] {key} has {v!r}, which is not valid",
                                      hint=f"choose from: {', '.join(choices)}")
        if len(set(value)) != len(value):
            raise _bad(where, section, key, value, "a list without repeats")
        if (section, key) in _PATH_LIST_KEYS:
            return tuple(str(_resolve(v, base)) for v in value)
        return tuple(value)
    raise _bad(where, section, key, value, f"like {default!r}")  # pragma: no cover


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def _check_values(cfg: PipelineConfig, where: str) -> None:
    t, m, c, d = cfg.train, cfg.measure, cfg.convert, cfg.dataset
    positive = [("train", "epochs", t.epochs), ("train", "batch_size", t.batch_size)]
    for section, key, value in positive:
        if value < 1:
            raise _bad(where, section, key, value, "at least 1")
    non_negative = [("dataset", "limit", d.limit), ("train", "teacher_epochs", t.teacher_epochs),
                    ("convert", "calibration_samples", c.calibration_samples),
                    ("report", "max_latency_ms", cfg.report.max_latency_ms),
                    ("report", "max_size_kb", cfg.report.max_size_kb),
                    ("report", "min_quality", cfg.report.min_quality),
                    ("train", "lambda_labels", t.lambda_labels), ("train", "lambda_teacher", t.lambda_teacher),
                    ("train", "augment_shift", t.augment_shift), ("train", "augment_rotation", t.augment_rotation)]
    for section, key, value in non_negative:
        if value < 0:
            raise _bad(where, section, key, value, "zero or more")
    if t.temperature <= 0:
        raise _bad(where, "train", "temperature", t.temperature, "greater than 0 (e.g. 4.0)")
    if not 0 < t.learning_rate < 1:
        raise _bad(where, "train", "learning_rate", t.learning_rate, "between 0 and 1 (e.g. 0.002)")
    if t.augment_shift >= 0.5 or t.augment_rotation > 45:
        raise ConfigError(f"pipeline '{where}': [train] augment_shift {t.augment_shift} / augment_rotation "
                          f"{t.augment_rotation} are too large to keep labels",
                          hint="shift below 0.5 (a fraction of the image), rotation at most 45 degrees")
    if not 0 < d.test_fraction < 1:
        raise _bad(where, "dataset", "test_fraction", d.test_fraction, "between 0 and 1")
    if not t.recipes:
        raise _bad(where, "train", "recipes", list(t.recipes), f"a non-empty list of: {', '.join(PIPELINE_RECIPES)}")
    if not c.variants:
        raise _bad(where, "convert", "variants", list(c.variants), f"a non-empty list of: {', '.join(VARIANT_CHOICES)}")
    if "distillation" in t.recipes and not t.teacher_model and not (0 < t.teacher_width <= 16):
        raise _bad(where, "train", "teacher_width", t.teacher_width, "a width multiplier in (0, 16]")
    if cfg.family.channel_multiple < 1:
        raise _bad(where, "family", "channel_multiple", cfg.family.channel_multiple,
                   "a whole number ≥ 1 (1 = no rounding; MobileNet rounds to 8)")
    if cfg.family.channel_multiple != 1 and not cfg.uses_family:
        raise ConfigError(f"pipeline '{where}': [family] channel_multiple = {cfg.family.channel_multiple} "
                          "applies to the paper's family, but [family] lists models",
                          hint="drop channel_multiple, or use widths instead of models")
    if cfg.uses_family and not cfg.family.widths:
        raise ConfigError(f"pipeline '{where}': [family] has neither widths nor models",
                          hint="set widths = [0.25, 0.5, 1.0] or models = [\"my_model.keras\"]")
    if d.kind in ("npz",) and not d.path:
        raise _bad(where, "dataset", "path", d.path, "the .npz file for kind 'npz'")
    if m.lab and tuple(m.devices) not in ((), ("host",)):
        raise ConfigError(f"pipeline '{where}': [measure] has both devices = {list(m.devices)} and lab = '{m.lab}'",
                          hint="name the devices in the lab file, or drop lab")
    if not m.lab and not m.devices:
        raise _bad(where, "measure", "devices", [], "a non-empty list of device profile names, e.g. [\"host\"]")
