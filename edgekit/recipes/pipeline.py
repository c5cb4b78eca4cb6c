"""``run_pipeline``: the paper's workflow end to end, from a model family to a Pareto report.

Stages, in order: dataset → teacher → train (width × recipe) → convert → evaluate →
measure → report. Each stage's outputs live in the run folder under a name derived from a
hash of its inputs (see :mod:`edgekit.recipes.run_folder`); a stage whose complete output
exists is skipped, so a second run with nothing changed does no work and an interrupted
run resumes from the stages it completed. Measurements are skipped when the store already
has an ok measurement of the same artifact bytes on the same device with the same settings.

The pipeline never prints: it logs and calls ``progress`` (one stage name per stage).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import ConfigError
from ..jsonio import write_json
from ..progress import ProgressCallback, ProgressEvent, report
from .family import ParamRow
from .pipeline_file import PipelineConfig, load_pipeline
from .run_folder import RunFolder

LOG = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("dataset", "teacher", "train", "convert", "evaluate", "measure", "report")


@dataclass(frozen=True)
class StageTiming:
    """What one stage did: wall seconds, items it ran, items it found cached, items failed."""

    name: str
    seconds: float
    ran: int = 0
    cached: int = 0
    failed: int = 0

    @property
    def status(self) -> str:
        if self.failed and not self.ran and not self.cached:
            return "failed"
        if not self.ran and not self.cached and not self.failed:
            return "skipped"
        if not self.ran:
            return "cached"
        return "ran" if not self.cached else "ran (part cached)"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": round(self.seconds, 3), "ran": self.ran,
                "cached": self.cached, "failed": self.failed, "status": self.status}


@dataclass(frozen=True)
class TrainedModel:
    """A trained family member (or user model) of this run."""

    name: str
    recipe: str
    width: Optional[float]
    params: int
    path: Path
    key: str
    train_seconds: float
    keras_top1: Optional[float]
    cached: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "recipe": self.recipe, "width": self.width, "params": self.params,
                "path": str(self.path), "key": self.key, "train_seconds": round(self.train_seconds, 2),
                "keras_top1": self.keras_top1, "cached": self.cached}


@dataclass
class PipelineResult:
    """What a pipeline run did and concluded.

    ``recommendations`` maps a device to the recommended model (a dict with model, variant,
    quality, median_ms, size_bytes; ``found`` False when nothing met the constraints);
    ``strategies`` are the paper's two strategies stated in measured numbers.
    """

    out_dir: Path
    report_dir: Path
    stages: list[StageTiming]
    recommendations: dict[str, dict[str, Any]]
    strategies: list[str]
    param_table: list[ParamRow]
    models: list[TrainedModel] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    store_path: Optional[Path] = None
    report_files: dict[str, list[str]] = field(default_factory=dict)
    strategy_details: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    seconds: float = 0.0

    def stage(self, name: str) -> StageTiming:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def did_work(self) -> bool:
        """True when any stage ran anything (False: everything came from the cache)."""
        return any(s.ran for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "edgekit.pipeline-result", "source": self.source, "out_dir": str(self.out_dir),
            "report_dir": str(self.report_dir), "store": str(self.store_path) if self.store_path else None,
            "seconds": round(self.seconds, 3), "dataset": self.dataset,
            "stages": [s.to_dict() for s in self.stages],
            "models": [m.to_dict() for m in self.models], "manifests": [str(p) for p in self.manifests],
            "recommendations": self.recommendations, "strategies": self.strategies,
            "strategy_details": self.strategy_details,
            "param_table": [r.to_dict() for r in self.param_table],
            "report_files": self.report_files, "notes": self.notes,
        }


def run_pipeline(path: str | Path | None = None, overrides: Optional[dict[str, Any]] = None,
                 progress: Optional[ProgressCallback] = None) -> PipelineResult:
    """Run a pipeline file (or the embedded default) from dataset to report.

    Args:
        path: the pipeline TOML, or None for the embedded default (digits, three widths,
            baseline + distillation, fp32 + int8, measured on ``host``).
        overrides: values replacing the file's, e.g. ``{"pipeline.out": "/tmp/run"}``.
        progress: receives events of the stages ``dataset``, ``teacher``, ``train``,
            ``convert``, ``evaluate``, ``measure`` and ``report``.

    Returns:
        The :class:`PipelineResult` (also saved as ``OUT/summary.json``).

    Raises:
        ConfigError: a bad pipeline file, dataset, model, device or lab file — found before
            any training starts.
        KeyboardInterrupt: passes through; completed stages are kept for the next run.
    """
    cfg = load_pipeline(path, overrides)
    from .stages import PipelineRun

    return PipelineRun(cfg, progress).execute()


def default_pipeline() -> PipelineConfig:
    """The embedded default pipeline, validated."""
    return load_pipeline(None)


class StageClock:
    """Times one stage and counts what it ran, found cached, or failed."""

    def __init__(self, name: str, progress: Optional[ProgressCallback]) -> None:
        self.name = name
        self.progress = progress
        self.ran = 0
        self.cached = 0
        self.failed = 0
        self._t0 = time.perf_counter()

    def event(self, item: str, done: int, total: Optional[int], message: str = "") -> None:
        report(self.progress, self.name, item, done, total, message)

    def finish(self) -> StageTiming:
        t = StageTiming(self.name, time.perf_counter() - self._t0, self.ran, self.cached, self.failed)
        LOG.info("stage %s: %s in %.1f s (ran %d, cached %d, failed %d)", t.name, t.status, t.seconds,
                 t.ran, t.cached, t.failed)
        return t


def forward(progress: Optional[ProgressCallback], stage: str, offset: int, total: int,
            prefix: str = "") -> Optional[ProgressCallback]:
    """A callback that re-labels another API's events as ``stage`` events, counting from
    ``offset`` of ``total`` (an inner event's ``done`` adds to the offset)."""
    if progress is None:
        return None

    def callback(ev: ProgressEvent) -> None:
        item = ev.item if not prefix or ev.item.startswith(prefix) else f"{prefix} {ev.item}"
        progress(ProgressEvent(stage, item, min(total, offset + ev.done), total, ev.message))

    return callback


def save_summary(folder: RunFolder, result: PipelineResult) -> None:
    """Write ``OUT/summary.json`` (atomic, versioned)."""
    write_json(folder.summary_path, result.to_dict())


def require(condition: bool, message: str, hint: str) -> None:
    """Raise a ConfigError unless ``condition``."""
    if not condition:
        raise ConfigError(message, hint=hint)
