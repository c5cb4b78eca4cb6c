"""The stages of a pipeline run, each skipped when its content-keyed output is complete.

See :mod:`edgekit.recipes.pipeline` for the public entry point and
:mod:`edgekit.recipes.run_folder` for the folder layout.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..artifact import Manifest, sha256_file
from ..errors import ConfigError, ConversionError, EdgekitError
from ..farm.store import Store
from ..jsonio import write_json
from ..progress import ProgressCallback
from .datasets import Dataset, DatasetSpec, check_available, load_dataset, save_split
from .family import FAMILY_NAME, family_param_table, load_user_model, model_name, paper_cnn
from .pipeline import (PipelineResult, StageClock, StageTiming, TrainedModel, forward, require,
                       save_summary)
from .measure_stage import check_lab, measure
from .pipeline_file import PipelineConfig
from .report_stage import report_and_summarise
from .run_folder import RunFolder, content_key, save_keras
from .training import AugmentationConfig

LOG = logging.getLogger(__name__)

#: bump when the family's layers change (trained models are then not reused)
FAMILY_VERSION = 1
TEST_DATASET_SUFFIX = "-test"


@dataclass(frozen=True)
class Member:
    """One model to train: a family width or a user's model file, with a recipe."""

    name: str
    recipe: str
    width: Optional[float]
    user_path: Optional[Path]
    key: str

    @property
    def untrained(self) -> bool:
        return self.recipe == "none"


class PipelineRun:
    """One execution of a validated pipeline."""

    def __init__(self, cfg: PipelineConfig, progress: Optional[ProgressCallback]) -> None:
        self.cfg = cfg
        self.progress = progress
        self.folder = RunFolder(cfg.pipeline.out)
        self.stages: list[StageTiming] = []
        self.notes: list[str] = []
        self.dataset: Optional[Dataset] = None
        self.files: dict[str, Path] = {}
        self.teacher_key = ""
        self._teacher: Any = None
        self.models: list[TrainedModel] = []
        self.manifests: list[Manifest] = []
        self.store: Any = None

    # -- the whole run ------------------------------------------------------------------
    def execute(self) -> PipelineResult:
        t0 = time.perf_counter()
        self.preflight()
        LOG.info("pipeline %s (%s) → %s", self.cfg.pipeline.name, self.cfg.source, self.folder.root)
        self.folder.prepare()
        write_json(self.folder.config_path, {"kind": "edgekit.pipeline", **self.cfg.to_dict()})
        self.store = Store(self.folder.store_path)
        try:
            self.stage_dataset()
            members = self.plan_members()
            self.stage_teacher(members)
            self.stage_train(members)
            self.stage_convert()
            self.stage_evaluate()
            self.stages.append(measure(self))
            timing, recs, files, strategies, details = report_and_summarise(self)
            self.stages.append(timing)
            result = PipelineResult(
                out_dir=self.folder.root, report_dir=self.folder.report_dir, stages=self.stages,
                recommendations=recs, strategies=strategies,
                param_table=family_param_table(),
                models=self.models, manifests=[m.path for m in self.manifests],
                store_path=self.folder.store_path, report_files=files, strategy_details=details,
                notes=self.notes, dataset=self.dataset.summary() if self.dataset else {},
                source=self.cfg.source, seconds=time.perf_counter() - t0)
            save_summary(self.folder, result)
            return result
        finally:
            self.store.close()

    # -- before any work ------------------------------------------------------------------
    def preflight(self) -> None:
        """Check everything that can be checked cheaply, before any training."""
        cfg = self.cfg
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
        else:
            from ..devices.profile import get_profile

            for d in cfg.measure.devices:
                get_profile(d, cfg.measure.profiles)  # ConfigError names the device and the choices

    # -- dataset ----------------------------------------------------------------------------
    def stage_dataset(self) -> None:
        clock = StageClock("dataset", self.progress)
        c = self.cfg.dataset
        clock.event(c.kind, 0, 1, "loading")
        ds = load_dataset(DatasetSpec(c.kind, c.path, c.limit, self.cfg.pipeline.seed, c.test_fraction,
                                      c.allow_download))
        folder = self.folder.data_dir(ds.id)
        marker = folder / "dataset.json"
        wanted = self.cfg.convert.calibration_samples
        doc = RunFolder.done(marker)
        if doc and doc.get("calibration_samples") == wanted and (folder / "test.npz").is_file():
            clock.cached += 1
        else:
            from ..convert.calibration import samples_needed

            rows = min(len(ds.x_train), samples_needed(max(1, wanted)))
            save_split(ds, folder, rows)
            RunFolder.mark(marker, {**ds.summary(), "calibration_samples": wanted, "calibration_rows": rows})
            clock.ran += 1
        self.dataset = ds
        self.files = {"test": folder / "test.npz", "calibration": folder / "calibration.npz"}
        clock.event(ds.id, 1, 1, f"{len(ds.x_train)} train / {len(ds.x_test)} test")
        self.stages.append(clock.finish())

    # -- what to train ------------------------------------------------------------------------
    def plan_members(self) -> list[Member]:
        cfg, ds = self.cfg, self.dataset
        assert ds is not None
        t = cfg.train
        self.teacher_key = self._teacher_key() if "distillation" in t.recipes else ""
        members: list[Member] = []
        sources: list[tuple[str, Optional[float], Optional[Path], dict[str, Any]]] = []
        if cfg.uses_family:
            for w in cfg.family.widths:
                sources.append((model_name(w), w, None, self._family_spec(w)))
        else:
            for p in cfg.family.models:
                path = Path(p)
                sources.append((path.stem, None, path, {"user_model": sha256_file(path)}))
        for base, width, path, spec in sources:
            for recipe in t.recipes:
                key = content_key(ds.id, spec, self._recipe_spec(recipe))
                name = base if recipe == "none" else f"{base}-{recipe}"
                members.append(Member(name, recipe, width, path, key))
        return members

    def _family_spec(self, width: float) -> dict[str, Any]:
        ds = self.dataset
        assert ds is not None
        return {"family": FAMILY_NAME, "version": FAMILY_VERSION, "width": width,
                "input_shape": list(ds.input_shape), "classes": ds.num_classes}

    def _augmentation(self) -> AugmentationConfig:
        t = self.cfg.train
        flip = None if t.augment_flip == "auto" else t.augment_flip == "yes"
        return AugmentationConfig(shift=t.augment_shift, rotation_degrees=t.augment_rotation, flip=flip)

    def _recipe_spec(self, recipe: str, epochs: Optional[int] = None) -> dict[str, Any]:
        t = self.cfg.train
        if recipe == "none":
            return {"recipe": "none"}
        spec: dict[str, Any] = {"recipe": recipe, "epochs": epochs or t.epochs, "batch_size": t.batch_size,
                                "learning_rate": t.learning_rate, "seed": self.cfg.pipeline.seed}
        if recipe in ("augmentation", "distillation"):
            spec["augmentation"] = self._augmentation().to_dict()
        if recipe == "distillation":
            spec.update(temperature=t.temperature, lambda_labels=t.lambda_labels,
                        lambda_teacher=t.lambda_teacher, teacher=self.teacher_key)
        return spec

    def _teacher_key(self) -> str:
        t, ds = self.cfg.train, self.dataset
        assert ds is not None
        if t.teacher_model:
            return content_key("teacher-file", sha256_file(t.teacher_model))
        return content_key(ds.id, self._family_spec(t.teacher_width),
                           self._recipe_spec("augmentation", t.teacher_epochs or t.epochs))

    # -- teacher -------------------------------------------------------------------------------
    def stage_teacher(self, members: list[Member]) -> None:
        clock = StageClock("teacher", self.progress)
        t = self.cfg.train
        students = [m for m in members if m.recipe == "distillation"]
        if not students:
            self.stages.append(clock.finish())
            return
        if t.teacher_model:
            clock.event(Path(t.teacher_model).name, 1, 1, "given")
            clock.cached += 1
            self.stages.append(clock.finish())
            return
        name = f"teacher-{model_name(t.teacher_width)}"
        folder = self.folder.teacher_dir(name, self.teacher_key)
        if RunFolder.done(folder / "train.json"):
            clock.cached += 1
            clock.event(name, 1, 1, "cached")
        elif all(self._trained(m) for m in students):
            clock.event(name, 1, 1, "not needed: every student is cached")
        else:
            epochs = t.teacher_epochs or t.epochs
            model = paper_cnn(t.teacher_width, self.dataset.input_shape, self.dataset.num_classes,  # type: ignore[union-attr]
                              seed=self.cfg.pipeline.seed)
            self._teacher = self._fit(model, "augmentation", name, epochs, clock, folder)
            clock.ran += 1
        self.stages.append(clock.finish())

    def teacher(self) -> Any:
        """The teacher model (loaded from the run folder or the user's file on first use)."""
        if self._teacher is None:
            t = self.cfg.train
            path = Path(t.teacher_model) if t.teacher_model else \
                self.folder.teacher_dir(f"teacher-{model_name(t.teacher_width)}", self.teacher_key) / "model.keras"
            self._teacher = load_user_model(path)
        return self._teacher

    # -- students --------------------------------------------------------------------------------
    def _trained(self, m: Member) -> bool:
        return m.untrained or RunFolder.done(self.folder.model_dir(m.name, m.key) / "train.json") is not None

    def stage_train(self, members: list[Member]) -> None:
        clock = StageClock("train", self.progress)
        ds = self.dataset
        assert ds is not None
        todo = [m for m in members if not self._trained(m)]
        epochs = self.cfg.train.epochs
        total, done = len(todo) * epochs, 0
        clock.event("models", 0, total or 1, f"{len(todo)} to train, {len(members) - len(todo)} cached")
        for m in members:
            folder = self.folder.model_dir(m.name, m.key)
            if m.untrained:
                assert m.user_path is not None
                model = load_user_model(m.user_path)
                self.models.append(TrainedModel(m.name, "none", None, int(model.count_params()), m.user_path,
                                                m.key, 0.0, None, True))
                clock.cached += 1
                continue
            doc = RunFolder.done(folder / "train.json")
            if doc is None:
                if m.width is not None:
                    model = paper_cnn(m.width, ds.input_shape, ds.num_classes, seed=self.cfg.pipeline.seed)
                else:
                    assert m.user_path is not None
                    model = load_user_model(m.user_path)
                self._fit(model, m.recipe, m.name, epochs, clock, folder, offset=done, total=total)
                done += epochs
                doc = RunFolder.done(folder / "train.json")
                assert doc is not None
                clock.ran += 1
                cached = False
            else:
                clock.cached += 1
                cached = True
            self.models.append(TrainedModel(m.name, m.recipe, m.width, int(doc["params"]), folder / "model.keras",
                                            m.key, float(doc["seconds"]), doc.get("keras_top1"), cached))
        clock.event("models", total or 1, total or 1, f"{clock.ran} trained, {clock.cached} cached")
        self.stages.append(clock.finish())

    def _fit(self, model: Any, recipe: str, name: str, epochs: int, clock: StageClock, folder: Path,
             offset: int = 0, total: int = 0) -> Any:
        from .training import accuracy, train

        t, ds = self.cfg.train, self.dataset
        assert ds is not None
        teacher = self.teacher() if recipe == "distillation" else None
        inner = forward(self.progress, clock.name, offset, total or epochs, prefix=name)
        result = train(model, ds, recipe, epochs, t.batch_size, self.cfg.pipeline.seed, teacher=teacher,
                       temperature=t.temperature, lambda_labels=t.lambda_labels,
                       lambda_teacher=t.lambda_teacher, augmentation=self._augmentation(),
                       learning_rate=t.learning_rate, progress=inner, name=name)
        top1 = accuracy(model, ds.x_test, ds.y_test)
        save_keras(model, folder / "model.keras")
        RunFolder.mark(folder / "train.json", {
            "name": name, "recipe": recipe, "params": int(model.count_params()), "seconds": result.seconds,
            "epochs": epochs, "history": result.history, "keras_top1": top1, "dataset": ds.id})
        LOG.info("trained %s in %.1f s: keras top-1 %.4f", name, result.seconds, top1)
        return model

    # -- convert ----------------------------------------------------------------------------------
    def stage_convert(self) -> None:
        clock = StageClock("convert", self.progress)
        c = self.cfg.convert
        calib = self.files["calibration"]
        calib_id = sha256_file(calib)
        rows = self._calibration_rows()
        total = len(self.models)
        clock.event("models", 0, total)
        for i, m in enumerate(self.models):
            key = content_key(sha256_file(m.path), list(c.variants), calib_id, rows)  # by the model's bytes
            folder = self.folder.artifacts_dir(m.name, key)
            if RunFolder.done(folder / "convert.json"):
                self.manifests.append(Manifest.load(folder / "manifest.json"))
                clock.cached += 1
                clock.event(m.name, i + 1, total, "cached")
                continue
            from ..convert.api import convert

            info = {"name": m.name, "family": FAMILY_NAME if m.width is not None else "user",
                    "width": m.width, "recipe": m.recipe, "params": m.params, "dataset": self.dataset.id}  # type: ignore[union-attr]
            try:
                manifest = convert(m.path, folder, variants=list(c.variants), calibration=calib, samples=rows,
                                   name=m.name, model_info=info,
                                   progress=forward(self.progress, "convert", i, total, prefix=m.name))
            except ConversionError as err:
                clock.failed += 1
                self.notes.append(f"{m.name}: conversion failed: {err.message}")
                LOG.warning("%s: conversion failed: %s", m.name, err.message)
                continue
            for f in manifest.failures:
                self.notes.append(f"{m.name}: variant {f.variant} failed: {f.error}")
            RunFolder.mark(folder / "convert.json", {"model": m.name, "key": key,
                                                     "variants": [a.variant for a in manifest.artifacts]})
            self.manifests.append(manifest)
            clock.ran += 1
            clock.event(m.name, i + 1, total, ", ".join(a.variant for a in manifest.artifacts))
        self.stages.append(clock.finish())

    def _calibration_rows(self) -> int:
        import numpy as np

        from ..convert.calibration import MAX_HOLDBACK

        with np.load(self.files["calibration"]) as z:
            n = int(z["x"].shape[0])
        return max(1, n - min(MAX_HOLDBACK, n // 4))

    # -- evaluate ----------------------------------------------------------------------------------
    @property
    def dataset_label(self) -> str:
        """The dataset name that ``evaluate`` records (``NAME:`` + the test file's hash)."""
        assert self.dataset is not None
        return f"{self.dataset.name}{TEST_DATASET_SUFFIX}:{sha256_file(self.files['test'])[:12]}"

    def stage_evaluate(self) -> None:
        clock = StageClock("evaluate", self.progress)
        label = self.dataset_label
        have = {(q.artifact_sha256, q.dataset) for q in self.store.quality(metric="top1")}
        total = len(self.manifests)
        clock.event("manifests", 0, total)
        for i, man in enumerate(self.manifests):
            runnable = [a for a in man.artifacts if a.variant != "edgetpu"]
            if all((a.sha256, label) in have for a in runnable):
                clock.cached += 1
                for a in man.artifacts:      # keep the artifacts table complete for the report
                    if self.store.artifact(a.sha256) is None:
                        self.store.put_artifact(a)
                clock.event(man.path.parent.name, i + 1, total, "cached")
                continue
            from ..evaluate.api import evaluate

            assert self.dataset is not None
            try:
                recs = evaluate(man, self.files["test"], metric="top1", store=self.store,
                                dataset_name=self.dataset.name + TEST_DATASET_SUFFIX)
            except EdgekitError as err:
                clock.failed += 1
                self.notes.append(f"{man.path.parent.name}: evaluation failed: {err.message}")
                continue
            clock.ran += 1
            clock.event(man.path.parent.name, i + 1, total,
                        " ".join(f"{r.variant} {r.value:.3f}" for r in recs))
        self.stages.append(clock.finish())

    @property
    def artifacts(self) -> list[Any]:
        return [a for m in self.manifests for a in m.artifacts]
