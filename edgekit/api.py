"""Public functions that join packages which do not import each other.

The device farm (:mod:`edgekit.farm`) is imported only here and by the CLI: the pipeline
measures through a lab file with the farm's ``Lab.load`` handed to it, so
:mod:`edgekit.pipeline` never imports :mod:`edgekit.farm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from .pipeline.result import PipelineResult
from .progress import ProgressCallback, report


def run_pipeline(path: str | Path | None = None, overrides: Optional[dict[str, Any]] = None,
                 progress: Optional[ProgressCallback] = None) -> PipelineResult:
    """Run a pipeline file (or the embedded default) from dataset to report.

    See :func:`edgekit.pipeline.run.run_pipeline`; this one can measure through a lab file
    (``[measure] lab``) as well as on named devices.
    """
    from .farm.lab import Lab
    from .pipeline.run import run_pipeline as run

    return run(path, overrides, progress, lab_loader=Lab.load)


@dataclass
class SampleResult:
    """What :func:`sample_device` did: architectures on disk, models measured, what failed."""

    device: str
    folder: Path
    architectures: int
    models: int
    already_measured: int
    measured: int
    failed_jobs: int
    failed_conversions: list[tuple[str, str]] = field(default_factory=list)
    lab_file: Optional[Path] = None
    store: str = ""


def sample_device(device: str, n: int, *, lab: str | Path | None = None, store: Optional[str] = None,
                  folder: str | Path | None = None, variants: Sequence[str] = ("fp32", "int8"), seed: int = 0,
                  families: Optional[Sequence[str]] = None, profile_dirs: Sequence[str | Path] = (),
                  settings: Optional[dict[str, Any]] = None, active: bool = False, again: bool = False,
                  predictors: str | Path | None = None,
                  progress: Optional[ProgressCallback] = None) -> SampleResult:
    """Generate ``n`` architectures, convert them, and measure on ``device`` through the lab
    those its store lacks (resumable: what is converted or measured is skipped).

    Args:
        device: a device of ``lab`` (by name), or without a lab a profile name (e.g. ``host``).
        lab: a lab file whose ``[[device]]`` of that name (with its ``[lab] profiles`` and
            ``[defaults]``) is used; its store is the default store.
        store: the results store (path or URL); training reads it back.
        folder: where architectures are converted (``.edgekit/predict-samples``).
        settings: run settings for the measurement (``[defaults]`` keys, e.g. ``runs``).
        active: measure instead the ``n`` architectures (of ``3n`` unmeasured candidates)
            whose predictions by the device's fitted predictor are least certain.
        predictors: the predictor folder (with ``active``).
        again: measure every model of the ``n`` architectures once more, measured or not (each
            measurement is kept; training pools their samples).

    Raises:
        ConfigError: an unknown device, a bad count, variant or setting.
    """
    import tomllib

    from .devices.profile import absolute_device_paths
    from .errors import ConfigError
    from .farm.lab import Lab
    from .farm.labfile import load_lab
    from .predict.generate import FAMILIES
    from .predict.registry import predictor_path
    from .predict.sampling import DEFAULT_DIR, check_variants, convert_samples, lab_toml, unmeasured
    from .store import open_store

    predictor_path(device)            # the device's name must be fit for file names
    variants = check_variants(variants)
    root = Path(folder) if folder is not None else DEFAULT_DIR
    lab_keys: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    entry: dict[str, Any] = {"name": device, "profile": device}
    if lab is not None:
        lab_path = Path(lab)
        try:
            doc = tomllib.loads(lab_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"lab file '{lab_path}' cannot be read ({exc})", hint="check the path and its TOML") from exc
        base = lab_path.resolve().parent
        found = [d for d in doc.get("device", []) if isinstance(d, dict) and d.get("name") == device]
        if not found:
            names = [str(d.get("name")) for d in doc.get("device", []) if isinstance(d, dict)]
            raise ConfigError(f"lab file '{lab_path}' has no device named '{device}' (it has: {', '.join(names)})",
                              hint="pass --device with one of those names")
        entry = absolute_device_paths(found[0], base)
        lab_doc = doc.get("lab", {}) if isinstance(doc.get("lab"), dict) else {}
        lab_keys = {k: v for k, v in lab_doc.items() if k not in ("name", "store", "profiles")}
        lab_keys["profiles"] = [str(base / p) for p in lab_doc.get("profiles", []) if isinstance(p, str)]
        defaults = dict(doc.get("defaults", {})) if isinstance(doc.get("defaults"), dict) else {}
        if store is None and isinstance(lab_doc.get("store"), str):
            s = lab_doc["store"]
            store = s if "://" in s else str(base / s)
    if profile_dirs:
        lab_keys["profiles"] = [*lab_keys.get("profiles", []), *(str(Path(p).resolve()) for p in profile_dirs)]
    defaults.update(settings or {})

    def convert_progress(stage: str, done: int, total: int, item: str) -> None:
        report(progress, stage, item, done, total)

    opened = open_store(store)
    if opened is None:
        raise ConfigError("sampling needs a results store", hint="drop --no-store, or pass --store PATH or URL")
    try:
        if active:
            from .predict.registry import require_predictor
            from .predict.suggest import candidate_pool, rank

            predictor = require_predictor(device, predictors)
            pool = candidate_pool(opened, device, 3 * n, root, seed, variants, tuple(families or FAMILIES), progress)
            chosen = list(dict.fromkeys(r["arch_id"] for r in rank(predictor, pool, len(pool) * len(variants))))[:n]
            converted, failed = [c for c in pool if c.spec.id in chosen], []
        else:
            converted, failed = convert_samples(n, root, variants, seed, tuple(families or FAMILIES),
                                                progress=convert_progress)
        missing = unmeasured(opened, device, converted)
        pending = [a for c in converted for a in c.artifacts] if again else missing
        models = sum(len(c.artifacts) for c in converted)
        result = SampleResult(device, root, len(converted), models, models - len(missing), 0, 0, failed,
                              store=opened.location)
        if not pending:
            return result
        wanted = {a.sha256 for a in pending}
        jobs = [(c.folder / "manifest.json", [a.variant for a in c.artifacts if a.sha256 in wanted])
                for c in converted]
        lab_file = (root / "labs" / f"{device}.toml").resolve()
        lab_file.parent.mkdir(parents=True, exist_ok=True)
        lab_file.write_text(lab_toml(f"predict-{device}", entry, jobs, lab_keys, defaults), encoding="utf-8")
        run = Lab(load_lab(lab_file), opened).run(fresh=True, progress=progress)
        result.lab_file = lab_file
        result.measured = run.counts.get("done", 0)
        result.failed_jobs = run.counts.get("failed", 0)
        return result
    finally:
        opened.close()


__all__ = ["SampleResult", "run_pipeline", "sample_device"]
