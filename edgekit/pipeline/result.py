"""What a pipeline run did and concluded: :class:`PipelineResult`, saved as ``OUT/summary.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..jsonio import write_json
from ..recipes.family import ParamRow
from .clock import StageTiming
from .run_folder import RunFolder


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
    store_path: Optional[str] = None      # where the run's results are (a path or a URL)
    report_files: dict[str, list[str]] = field(default_factory=dict)
    strategy_details: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    seconds: float = 0.0
    #: device → predicted points (label, artifact, predicted_ms, interval) for devices that could
    #: not be reached but have a latency predictor: predictions, never measurements
    predicted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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
            "report_files": self.report_files, "notes": self.notes, "predicted": self.predicted,
        }


def save_summary(folder: RunFolder, result: PipelineResult) -> None:
    """Write ``OUT/summary.json`` (atomic, versioned)."""
    write_json(folder.summary_path, result.to_dict())
