"""``run_pipeline``: the paper's workflow end to end, from a model family to a Pareto report.

Stages, in order: dataset → teacher → train (width × recipe) → convert → evaluate →
measure → report. Each stage's outputs live in the run folder under a name derived from a
hash of its inputs (see :mod:`edgekit.pipeline.run_folder`); a stage whose complete output
exists is skipped, so a second run with nothing changed does no work and an interrupted
run resumes from the stages it completed. Measurements are skipped when the store already
has an ok measurement of the same artifact bytes on the same device with the same settings.
The pipeline never prints: it logs and calls ``progress`` (one stage name per stage).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

from ..errors import ConfigError
from ..jsonio import write_json
from ..progress import ProgressCallback
from ..recipes.datasets import DatasetSpec, check_available
from ..recipes.family import family_param_table
from ..store import open_store
from .clock import StageTiming, require
from .context import LabLoader, StageContext
from .convert_stage import stage_convert, stage_evaluate
from .measure_stage import check_lab, measure
from .pipeline_file import PipelineConfig, load_pipeline
from .report_stage import report_and_summarise
from .result import PipelineResult, save_summary
from .run_folder import RunFolder
from .train_stage import TrainingStages

LOG = logging.getLogger(__name__)


def run_pipeline(path: str | Path | None = None, overrides: Optional[dict[str, Any]] = None,
                 progress: Optional[ProgressCallback] = None,
                 lab_loader: Optional[LabLoader] = None) -> PipelineResult:
    """Run a pipeline file (or the embedded default) from dataset to report.

    Args:
        path: the pipeline TOML, or None for the embedded default (digits, three widths,
            baseline + distillation, fp32 + int8, measured on ``host``).
        overrides: values replacing the file's, e.g. ``{"pipeline.out": "/tmp/run"}``.
        progress: receives events of the stages ``dataset``, ``teacher``, ``train``,
            ``convert``, ``evaluate``, ``measure`` and ``report``.
        lab_loader: opens a lab file for ``[measure] lab`` (the public ``edgekit.run_pipeline``
            passes the farm's ``Lab.load``).

    Returns:
        The :class:`PipelineResult` (also saved as ``OUT/summary.json``).

    Raises:
        ConfigError: a bad pipeline file, dataset, model, device or lab file — found before
            any training starts.
        KeyboardInterrupt: passes through; completed stages are kept for the next run.
    """
    cfg = load_pipeline(path, overrides)
    return execute(cfg, progress, lab_loader)


def default_pipeline() -> PipelineConfig:
    """The embedded default pipeline, validated."""
    return load_pipeline(None)


def execute(cfg: PipelineConfig, progress: Optional[ProgressCallback] = None,
            lab_loader: Optional[LabLoader] = None) -> PipelineResult:
    """Run a validated pipeline: preflight, then every stage in order."""
    t0 = time.perf_counter()
    preflight(cfg, lab_loader)
    folder = RunFolder(cfg.pipeline.out)
    LOG.info("pipeline %s (%s) → %s", cfg.pipeline.name, cfg.source, folder.root)
    folder.prepare()
    write_json(folder.config_path, {"kind": "edgekit.pipeline", **cfg.to_dict()})
    store = open_store(cfg.pipeline.store or None)
    assert store is not None
    ctx = StageContext(cfg=cfg, store=store, folder=folder, progress=progress, lab_loader=lab_loader)
    stages: list[StageTiming] = []
    try:
        training = TrainingStages(ctx)
        stages.append(training.stage_dataset())
        members = training.plan_members()
        stages.append(training.stage_teacher(members))
        stages.append(training.stage_train(members))
        stages.append(stage_convert(ctx))
        stages.append(stage_evaluate(ctx))
        stages.append(measure(ctx))
        timing, recs, files, strategies, details = report_and_summarise(ctx)
        stages.append(timing)
        result = PipelineResult(
            out_dir=folder.root, report_dir=folder.report_dir, stages=stages,
            recommendations=recs, strategies=strategies, param_table=family_param_table(),
            models=ctx.models, manifests=[m.path for m in ctx.manifests],
            store_path=str(store.path.resolve()) if store.path else store.location, report_files=files, strategy_details=details,
            notes=ctx.notes, dataset=training.dataset.summary() if training.dataset else {},
            source=cfg.source, seconds=time.perf_counter() - t0, predicted=ctx.predicted)
        save_summary(folder, result)
        return result
    finally:
        store.close()


def preflight(cfg: PipelineConfig, lab_loader: Optional[LabLoader] = None) -> None:
    """Check everything that can be checked cheaply, before any training."""
    where = f"pipeline '{cfg.source}'"
    c = cfg.dataset
    check_available(DatasetSpec(c.kind, c.path, c.limit, cfg.pipeline.seed, c.test_fraction, c.allow_download))
    for p in cfg.family.models:
        require(Path(p).is_file(), f"{where}: [family] models has '{p}', which does not exist",
                "list .keras or .h5 files saved by model.save(); paths are relative to the pipeline file")
        require(Path(p).suffix in (".keras", ".h5"), f"{where}: [family] models has '{p}', not a .keras/.h5 file",
                "save the model with model.save('name.keras')")
    if "none" in cfg.train.recipes and cfg.uses_family:
        raise ConfigError(f"{where}: [train] recipes has 'none' (use models as given), but the family "
                          "models are built untrained", hint="use none only with [family] models")
    if cfg.train.teacher_model:
        require(Path(cfg.train.teacher_model).is_file(),
                f"{where}: [train] teacher_model '{cfg.train.teacher_model}' does not exist",
                "give a trained .keras teacher, or remove teacher_model to train the family's")
    if cfg.measure.lab:
        check_lab(cfg)
        if lab_loader is None:
            raise ConfigError(f"{where}: [measure] lab needs the device farm, which this call did not get",
                              hint="call edgekit.run_pipeline (or `edgekit run`), which passes it")
    else:
        from ..devices.profile import get_profile

        for d in cfg.measure.devices:
            get_profile(d, cfg.measure.profiles)  # ConfigError names the device and the choices
