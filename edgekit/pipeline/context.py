"""What every stage of a pipeline run needs, and nothing more.

Stages take a :class:`StageContext` (the validated config, the results store, the run
folder, the progress callback, the run's notes and what earlier stages produced), never
the whole run object, so no stage module imports another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..artifact import Artifact, Manifest
from ..progress import ProgressCallback
from ..store import Store
from .pipeline_file import PipelineConfig
from .result import TrainedModel
from .run_folder import RunFolder

#: ``lab_loader(lab_file, store=…, profile_dirs=…)`` → a lab with ``name``, ``jobs`` and
#: ``run(resume=…, progress=…)`` (``edgekit.farm.lab.Lab.load``, given by the public API)
LabLoader = Callable[..., Any]


@dataclass
class StageContext:
    """The shared state of one pipeline run, handed to each stage."""

    cfg: PipelineConfig
    store: Store
    folder: RunFolder
    progress: Optional[ProgressCallback]
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)      # "test", "calibration"
    dataset_name: str = ""
    dataset_id: str = ""
    models: list[TrainedModel] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)
    lab_loader: Optional[LabLoader] = None
    #: devices of [measure] devices or its lab that could not be reached (their latencies may be predicted)
    unreachable: list[str] = field(default_factory=list)
    #: device → this run's predicted points (for devices that were unreachable and have a predictor)
    predicted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def artifacts(self) -> list[Artifact]:
        """Every artifact this run converted."""
        return [a for m in self.manifests for a in m.artifacts]

    @property
    def artifact_shas(self) -> set[str]:
        return {a.sha256 for a in self.artifacts}
