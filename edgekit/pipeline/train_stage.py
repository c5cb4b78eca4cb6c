"""The pipeline's training stages: dataset, teacher, and the family (width × recipe).

Each stage is skipped when its content-keyed output in the run folder is complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..artifact import sha256_file
from ..recipes.datasets import Dataset, DatasetSpec, load_dataset, save_split
from ..recipes.family import FAMILY_NAME, load_user_model, model_name, paper_cnn
from ..recipes.training import AugmentationConfig
from .clock import StageClock, StageTiming, forward
from .context import StageContext
from .result import TrainedModel
from .run_folder import RunFolder, content_key, save_keras

LOG = logging.getLogger(__name__)

#: bump when the family's layers change (trained models are then not reused)
FAMILY_VERSION = 1


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


class TrainingStages:
    """Dataset → teacher → students, for one run (state shared between the three stages)."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.progress = ctx.progress
        self.folder = ctx.folder
        self.dataset: Optional[Dataset] = None
        self.teacher_key = ""
        self._teacher: Any = None

    # -- dataset ----------------------------------------------------------------------------
    def stage_dataset(self) -> StageTiming:
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
        self.ctx.dataset_name, self.ctx.dataset_id = ds.name, ds.id
        self.ctx.files = {"test": folder / "test.npz", "calibration": folder / "calibration.npz"}
        clock.event(ds.id, 1, 1, f"{len(ds.x_train)} train / {len(ds.x_test)} test")
        return clock.finish()

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
                sources.append((model_name(w, multiple=cfg.family.channel_multiple), w, None,
                                self._family_spec(w, cfg.family.channel_multiple)))
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

    def _family_spec(self, width: float, multiple: int = 1) -> dict[str, Any]:
        ds = self.dataset
        assert ds is not None
        spec = {"family": FAMILY_NAME, "version": FAMILY_VERSION, "width": width,
                "input_shape": list(ds.input_shape), "classes": ds.num_classes}
        if multiple != 1:  # 1 keeps the keys (and so the cached models) of runs before the option
            spec["channel_multiple"] = multiple
        return spec

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
    def stage_teacher(self, members: list[Member]) -> StageTiming:
        clock = StageClock("teacher", self.progress)
        t = self.cfg.train
        students = [m for m in members if m.recipe == "distillation"]
        if not students:
            return clock.finish()
        if t.teacher_model:
            clock.event(Path(t.teacher_model).name, 1, 1, "given")
            clock.cached += 1
            return clock.finish()
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
        return clock.finish()

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

    def stage_train(self, members: list[Member]) -> StageTiming:
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
                self.ctx.models.append(TrainedModel(m.name, "none", None, int(model.count_params()), m.user_path,
                                                m.key, 0.0, None, True))
                clock.cached += 1
                continue
            doc = RunFolder.done(folder / "train.json")
            if doc is None:
                if m.width is not None:
                    model = paper_cnn(m.width, ds.input_shape, ds.num_classes, seed=self.cfg.pipeline.seed,
                                      channel_multiple=self.cfg.family.channel_multiple)
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
            self.ctx.models.append(TrainedModel(m.name, m.recipe, m.width, int(doc["params"]), folder / "model.keras",
                                            m.key, float(doc["seconds"]), doc.get("keras_top1"), cached))
        clock.event("models", total or 1, total or 1, f"{clock.ran} trained, {clock.cached} cached")
        return clock.finish()

    def _fit(self, model: Any, recipe: str, name: str, epochs: int, clock: StageClock, folder: Path,
             offset: int = 0, total: int = 0) -> Any:
        from ..recipes.training import accuracy, train

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
